namespace PioFvlm.Core.IO.TorchPickle;

/// <summary>
/// The tensors of an unpickled torch checkpoint: the top-level dict itself when it holds tensors, otherwise the
/// dict under <c>state_dict</c>, <c>model</c> or <c>module</c> (research checkpoints wrap the weights that way).
/// Values that are not tensors (epoch counters, optimizer state, ...) are skipped and their keys listed.
/// </summary>
internal sealed record TorchStateDict(IReadOnlyList<KeyValuePair<string, TorchTensorRef>> Tensors, IReadOnlyList<string> SkippedKeys)
{
    static readonly string[] WrapperKeys = ["state_dict", "model", "module"];

    public static TorchStateDict From(object? root, string file)
    {
        if (root is not PickleDict top)
            throw new CheckpointFormatException(file, $"top-level object is a {root?.GetType().Name ?? "None"}; expected a dict of name -> tensor");

        var dict = top;
        var skipped = new List<string>();
        if (!top.Items.Any(p => p.Value is TorchTensorRef))
        {
            foreach (string wrapper in WrapperKeys)
            {
                if (top.TryGet(wrapper, out var inner) && inner is PickleDict innerDict)
                {
                    dict = innerDict;
                    skipped.AddRange(top.Items.Where(p => !Equals(p.Key, wrapper)).Select(p => KeyText(p.Key)));
                    break;
                }
            }
        }

        var tensors = new List<KeyValuePair<string, TorchTensorRef>>();
        foreach (var (key, value) in dict.Items)
        {
            if (key is string name && value is TorchTensorRef tensor) tensors.Add(new(name, tensor));
            else skipped.Add(KeyText(key));
        }
        return new TorchStateDict(tensors, skipped);
    }

    static string KeyText(object key) => key as string ?? $"{key} ({key.GetType().Name} key)";
}
