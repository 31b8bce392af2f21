using System.Text;
using System.Text.Json.Nodes;

namespace PioFvlm.Bench.Eval.Runner;

/// <summary>
/// Joins shard answer files into one: every input must carry the same config hash, and no question id may appear in
/// two inputs (or twice in one). The output (answers + its <c>.meta.json</c>) is written atomically.
/// </summary>
public static class AnswerMerge
{
    public static int Merge(IReadOnlyList<string> inputs, string output)
    {
        if (inputs.Count == 0) throw new ArgumentException("merge needs at least one answers file");
        string hash = AnswerFile.ReadHash(inputs[0]);
        string? method = JsonNode.Parse(File.ReadAllText(AnswerFile.MetaPath(inputs[0])))?["method"]?.GetValue<string>();
        var seen = new Dictionary<string, string>();
        var text = new StringBuilder();
        foreach (string input in inputs)
        {
            if (!File.Exists(input)) throw new FileNotFoundException($"answers file not found: {input}", input);
            string h = AnswerFile.ReadHash(input);
            if (h != hash) throw new InvalidOperationException($"{input} has config hash {h} but {inputs[0]} has {hash}; only shards of one config can be merged");
            foreach (var a in AnswerFile.Read(input))
            {
                if (!seen.TryAdd(a.QuestionId, input))
                    throw new InvalidOperationException($"question {a.QuestionId} is answered in both {seen[a.QuestionId]} and {input}");
                text.Append(AnswerFile.ToJsonLine(a)).Append('\n');
            }
        }
        AtomicFile.WriteAllText(AnswerFile.MetaPath(output), new JsonObject { ["config_hash"] = hash, ["method"] = method, ["shard"] = null, ["merged_from"] = new JsonArray(inputs.Select(i => (JsonNode)Path.GetFullPath(i)).ToArray()) }.ToJsonString());
        AtomicFile.WriteAllText(output, text.ToString());
        return seen.Count;
    }
}
