using PioFvlm.Core.Models;
using PioFvlm.Models;
using PioFvlm.Models.Llava;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Demo;

/// <summary>
/// A training batch: pixels [B, 3, S, S], the prompt ids before the image (the same for every item), the ids after it
/// (question, "ASSISTANT:", answer, EOS; right-padded), and where each target token sits.
/// </summary>
public sealed class DemoBatch : IDisposable
{
    public required Tensor Pixels { get; init; }
    public required long[] PrefixIds { get; init; }
    public required Tensor SuffixIds { get; init; }

    /// <summary>Per target token: batch row, sequence position of the logit that predicts it, and its id.</summary>
    public required long[] TargetRows { get; init; }
    public required long[] TargetPositions { get; init; }
    public required long[] TargetIds { get; init; }

    /// <summary>Per batch row: the index into the target arrays of its first answer token.</summary>
    public required int[] FirstTarget { get; init; }

    /// <summary>Per batch row: how many targets (answer tokens + EOS) the first turn, the harness's question, has.</summary>
    public required int[] FirstTurnTargets { get; init; }

    /// <summary>Training-only patch labels [B, patches] (see <see cref="PatchLabels"/>): covering shape class, and whether a shape's centre lies in the patch.</summary>
    public required Tensor PatchClass { get; init; }
    public required Tensor PatchCentre { get; init; }

    /// <summary>Training-only "where" labels: per turn about one shape (colour, position), the batch row, the position
    /// of the logit that predicts its first answer token, and the grid column of the shape's centre.</summary>
    public long[] WhereRows { get; init; } = [];
    public long[] WherePositions { get; init; } = [];
    public long[] WhereColumns { get; init; } = [];

    public void Dispose()
    {
        Pixels.Dispose();
        SuffixIds.Dispose();
        PatchClass.Dispose();
        PatchCentre.Dispose();
    }
}

/// <summary>
/// Turns generated samples into the exact token sequences the harness will see: the model's own chat prompt
/// (<see cref="IVisionLanguageModel.FormatPrompt"/>) prepared by the model (<see cref="IVisionLanguageModel.Prepare"/>:
/// prompt ids and pixel values), then the answer as the tokenizer encodes it and EOS. Computes the training loss and
/// first-token accuracy in batch, on the LLaVA-1.5 modules (<see cref="VlmFamilies.Llava15Modules"/>).
/// </summary>
public sealed class DemoBatchBuilder(IVisionLanguageModel model, ShapesGenerator generator)
{
    readonly LlavaForConditionalGeneration _modules = VlmFamilies.Llava15Modules(model);

    public ShapesGenerator Generator { get; } = generator;

    /// <summary>The full question text the harness sends: the question, a newline, LLaVA's short-answer instruction.</summary>
    public static string PromptText(ShapesQuestion q) => q.Text + "\n" + ShapesWords.ShortAnswer;

    /// <summary>One single-turn item per sample: exactly what the harness asks.</summary>
    public DemoBatch Build(IReadOnlyList<ShapesSample> samples) => Build(samples, samples.Select(_ => (IReadOnlyList<ShapesQuestion>)[]).ToList());

    /// <summary>
    /// Items whose first turn is exactly the harness's single-turn prompt, followed (training only) by further turns
    /// about the same image, "USER: {q} ASSISTANT: {a}&lt;/s&gt;" each (without the short-answer line, to keep them short):
    /// more answers to learn from per image encoded.
    /// </summary>
    public DemoBatch Build(IReadOnlyList<ShapesSample> samples, IReadOnlyList<IReadOnlyList<ShapesQuestion>> extraTurns)
    {
        var images = samples.Select(s => ShapesRenderer.Render(s.Scene)).ToList();
        long[]? prefix = null;
        var suffixes = new List<List<long>>();
        var rows = new List<long>();
        var positions = new List<long>();
        var targets = new List<long>();
        var whereRows = new List<long>();
        var wherePositions = new List<long>();
        var whereColumns = new List<long>();
        int grid = _modules.Architecture.Vision.GridSize;
        var first = new int[samples.Count];
        var firstLength = new int[samples.Count];
        var pixels = new List<Tensor>(samples.Count);
        int visual = _modules.Architecture.TokensPerImage;
        for (int b = 0; b < samples.Count; b++)
        {
            using var inputs = model.Prepare(model.FormatPrompt(PromptText(samples[b].Question)), [images[b]]);
            pixels.Add(inputs.PixelValues!.alias());
            var ids = inputs.TokenIds;
            int image = ids.ToList().IndexOf(_modules.Architecture.ImageTokenId);
            var head = ids.Take(image).Select(i => (long)i).ToArray();
            if (prefix is null) prefix = head;
            else if (!prefix.SequenceEqual(head)) throw new InvalidOperationException("prompts differ before the image; the batch layout needs one shared prefix");
            var suffix = ids.Skip(image + 1).Select(i => (long)i).ToList();
            first[b] = targets.Count;
            var turns = extraTurns[b].Prepend(samples[b].Question).ToList();
            for (int turn = 0; turn < turns.Count; turn++)
            {
                if (turn > 0)
                    suffix.AddRange(model.Tokenizer.Encode($"USER: {turns[turn].Text} ASSISTANT:", addBos: false).Select(i => (long)i));
                if (turns[turn].Type is ShapesQuestionType.Colour or ShapesQuestionType.Position && turns[turn].About is [var shape])
                {
                    whereRows.Add(b);
                    wherePositions.Add(prefix.Length + visual + suffix.Count - 1);
                    whereColumns.Add(Math.Clamp((int)(shape.X * grid / samples[b].Scene.Size), 0, grid - 1));
                }
                var answer = model.Tokenizer.Encode(turns[turn].Answer, addBos: false).Select(i => (long)i).Append(model.Tokenizer.EosId).ToList();
                if (turn == 0) firstLength[b] = answer.Count;
                for (int t = 0; t < answer.Count; t++)
                {
                    rows.Add(b);
                    positions.Add(prefix.Length + visual + suffix.Count - 1 + t);   // the logit at the previous token predicts it
                    targets.Add(answer[t]);
                }
                suffix.AddRange(answer);
            }
            suffixes.Add(suffix);
        }
        int length = suffixes.Max(s => s.Count);
        long pad = model.Tokenizer.PadId ?? model.Tokenizer.EosId;   // right padding: after every target, never attended to by one
        var flat = new long[samples.Count * length];
        for (int b = 0; b < samples.Count; b++)
            for (int t = 0; t < length; t++)
                flat[b * length + t] = t < suffixes[b].Count ? suffixes[b][t] : pad;
        var classes = new long[samples.Count * grid * grid];
        var centres = new float[samples.Count * grid * grid];
        for (int b = 0; b < samples.Count; b++)
            PatchLabels.Fill(samples[b].Scene, grid, classes.AsSpan(b * grid * grid, grid * grid), centres.AsSpan(b * grid * grid, grid * grid));
        return new DemoBatch
        {
            PatchClass = tensor(classes, [samples.Count, grid * grid]),
            PatchCentre = tensor(centres, [samples.Count, grid * grid]),
            Pixels = Stacked(pixels),
            PrefixIds = prefix!,
            SuffixIds = tensor(flat, [samples.Count, length]),
            TargetRows = rows.ToArray(),
            TargetPositions = positions.ToArray(),
            TargetIds = targets.ToArray(),
            FirstTarget = first,
            FirstTurnTargets = firstLength,
            WhereRows = whereRows.ToArray(),
            WherePositions = wherePositions.ToArray(),
            WhereColumns = whereColumns.ToArray(),
        };
    }

    /// <summary>The images' pixel values [B, 3, S, S] in one tensor; the per-image ones are disposed.</summary>
    static Tensor Stacked(List<Tensor> pixels)
    {
        var all = cat(pixels, 0);
        foreach (var p in pixels) p.Dispose();
        return all;
    }

    /// <summary>Logits [targets, vocab] at every target position of the batch.</summary>
    public Tensor TargetLogits(DemoBatch batch)
    {
        var (logits, visual, _) = Forward(batch);
        visual.Dispose();
        return logits;
    }

    /// <summary>Logits [targets, vocab] at every target position, the projected visual tokens [B, V, hidden] and, when
    /// <paramref name="whereLayer"/> is given, the hidden states after that many decoder layers at the "where" positions.</summary>
    public (Tensor Logits, Tensor Visual, Tensor? Where) Forward(DemoBatch batch, int? whereLayer = null)
    {
        using var _ = NewDisposeScope();
        var lm = _modules.LanguageModel;
        long b = batch.Pixels.shape[0];
        var visual = _modules.EncodeImages(batch.Pixels);                                   // [B, V, hidden]
        var prefix = lm.Embed(tensor(batch.PrefixIds).unsqueeze(0)).expand(b, -1, -1);
        var suffix = lm.Embed(batch.SuffixIds);
        var hidden = cat([prefix, visual, suffix], 1);
        var positions = arange(hidden.shape[1], dtype: ScalarType.Int64).unsqueeze(0);
        Tensor? where = null;
        var h = hidden;
        if (whereLayer is { } split && batch.WhereRows.Length > 0)
        {
            h = lm.RunLayers(h, positions, null, 0, split);
            where = h.index(new TensorIndex[] { TensorIndex.Tensor(tensor(batch.WhereRows)), TensorIndex.Tensor(tensor(batch.WherePositions)) });
            h = lm.RunLayers(h, positions, null, split, lm.LayerCount);
        }
        else h = lm.RunLayers(h, positions, null, 0, lm.LayerCount);
        var picked = h.index(new TensorIndex[] { TensorIndex.Tensor(tensor(batch.TargetRows)), TensorIndex.Tensor(tensor(batch.TargetPositions)) });
        return (lm.Logits(picked.unsqueeze(0)).squeeze(0).MoveToOuterDisposeScope(), visual.MoveToOuterDisposeScope(), where?.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Answer cross-entropy, plus (when <paramref name="auxiliary"/> is given) the patch-label losses on the projected
    /// visual tokens: a training signal that makes the vision tower learn shapes and colours early; the heads are not
    /// part of the saved model. Returns the total, the answer loss alone and the where loss (0 without a where head).
    /// </summary>
    public (Tensor Total, Tensor Answer, Tensor Where) Loss(DemoBatch batch, PatchHeads? auxiliary = null)
    {
        using var _ = NewDisposeScope();
        var (logits, visual, where) = Forward(batch, auxiliary?.WhereLayer);
        var answer = nn.functional.cross_entropy(logits.to(ScalarType.Float32), tensor(batch.TargetIds));
        var total = answer;
        var whereLoss = zeros(1).squeeze();
        if (auxiliary is not null)
        {
            // On the RMS-normalised tokens, as the decoder's first norm sees them: labels read from raw features
            // let one large direction shared by every token grow, which the decoder's norm then flattens away.
            var normed = visual * (visual.pow(2).mean([-1], keepdim: true) + 1e-5).rsqrt();
            var (classLogits, centreLogits, columnLogits) = auxiliary.forward(normed);
            var patchClass = nn.functional.cross_entropy(classLogits.reshape(-1, classLogits.shape[^1]), batch.PatchClass.reshape(-1));
            var centre = nn.functional.binary_cross_entropy_with_logits(centreLogits.reshape(-1), batch.PatchCentre.reshape(-1));
            total = answer + patchClass + centre;
            if (columnLogits is not null)
            {
                int grid = (int)columnLogits.shape[^1];
                var columns = tensor(PatchLabels.Columns(grid)).repeat(visual.shape[0]);
                total = total + nn.functional.cross_entropy(columnLogits.reshape(-1, grid), columns);
            }
            if (where is not null)
            {
                // Where the named shape is, read from the question's last token mid-decoder: teaches the decoder to
                // fetch the shape's position along with its colour, which the answer loss alone did not (position
                // stayed at chance through 8,500 steps).
                var normedWhere = where * (where.pow(2).mean([-1], keepdim: true) + 1e-5).rsqrt();
                whereLoss = nn.functional.cross_entropy(auxiliary.Where(normedWhere), tensor(batch.WhereColumns));
                total = total + whereLoss;
            }
        }
        return (total.MoveToOuterDisposeScope(), answer.MoveToOuterDisposeScope(), whereLoss.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Share of samples whose whole answer (every answer token and EOS) is the argmax under teacher forcing, per
    /// question type and "all". Equals greedy decoding's exact match, since greedy follows the argmax token by token.
    /// </summary>
    public Dictionary<string, double> Accuracy(IReadOnlyList<ShapesSample> samples, int batchSize = 32)
    {
        var correct = ShapesQuestionType.All.ToDictionary(t => t, _ => 0);
        var total = ShapesQuestionType.All.ToDictionary(t => t, _ => 0);
        using var noGrad = no_grad();
        for (int start = 0; start < samples.Count; start += batchSize)
        {
            var slice = samples.Skip(start).Take(batchSize).ToList();
            using var batch = Build(slice);
            using var scope = NewDisposeScope();
            var predicted = TargetLogits(batch).argmax(-1).data<long>().ToArray();
            for (int i = 0; i < slice.Count; i++)
            {
                int from = batch.FirstTarget[i], to = from + batch.FirstTurnTargets[i];
                bool ok = Enumerable.Range(from, to - from).All(t => predicted[t] == batch.TargetIds[t]);
                string type = slice[i].Question.Type;
                total[type]++;
                if (ok) correct[type]++;
            }
        }
        var result = ShapesQuestionType.All.ToDictionary(t => t, t => total[t] == 0 ? 0 : correct[t] / (double)total[t]);
        result["all"] = correct.Values.Sum() / (double)Math.Max(1, total.Values.Sum());
        return result;
    }
}
