using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning;
using PioFvlm.Models.Text.Llama;
using PioFvlm.Tests.Models;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>Scores fixed by the test, whatever the state (one array per call, cycling).</summary>
internal sealed class FixedScoreScorer(params float[][] perCall) : ISaliencyScorer
{
    int _calls;

    public Tensor Score(PrefillState state, IDecoderStack decoder)
    {
        var values = perCall[_calls++ % perCall.Length];
        Assert.That(values.Length, Is.EqualTo(state.VisualTokenCount), "fixture: one score per visual token");
        return tensor(values, ScalarType.Float32);
    }
}

/// <summary>
/// Test oracle for the pruner's sequence surgery: replays given kept local indices (into all visual tokens of the
/// state, spans in sequence order, as <see cref="PruningStageReport.KeptLocalIndices"/>) after given layers with plain
/// position sets, written independently of ScoreThenSelectPruner and SequenceCut. Anyres rows (LLaVA-NeXT): the spans
/// of one (image, map row) are one row of the packed grid, and its image_newline is the position right after the row's
/// last span still present; the newline stays while the row keeps a token and goes with the row otherwise.
/// </summary>
internal sealed class ForcedSelectionPruner(IReadOnlyDictionary<int, long[]> keptAfterLayer) : IPrefillPruner
{
    /// <summary>Per stage run, in order: how many image_newline positions the oracle removed.</summary>
    public List<int> NewlinesDropped { get; } = [];

    public bool PrunesAfter(int layersDone) => keptAfterLayer.ContainsKey(layersDone);

    public PrefillState Prune(PrefillState state, IDecoderStack decoder)
    {
        var visual = state.VisualSpans.SelectMany(Positions).ToArray();
        var keptPositions = keptAfterLayer[state.LayersDone].Select(k => visual[k]).ToHashSet();
        var removed = visual.Where(p => !keptPositions.Contains(p)).ToHashSet();
        int newlines = 0;
        foreach (var row in state.VisualSpans.Where(s => s.Origin is { MapRow: >= 0 }).GroupBy(s => (s.ImageIndex, s.Origin!.Value.MapRow)))
            if (!row.SelectMany(Positions).Any(keptPositions.Contains))
            {
                removed.Add(row.Max(s => s.End));
                newlines++;
            }
        NewlinesDropped.Add(newlines);
        var rows = Enumerable.Range(0, (int)state.Length).Select(p => (long)p).Where(p => !removed.Contains(p)).ToArray();
        var spans = new List<VisualSpan>();
        foreach (var span in state.VisualSpans)
        {
            var keptHere = Positions(span).Where(keptPositions.Contains).ToArray();
            if (keptHere.Length > 0) spans.Add(span with { Start = Array.IndexOf(rows, keptHere[0]), Length = keptHere.Length });
        }
        using var scope = NewDisposeScope();
        var index = tensor(rows, ScalarType.Int64);
        return state with
        {
            Hidden = state.Hidden.index_select(1, index).MoveToOuterDisposeScope(),
            PositionIds = state.PositionIds.index_select(1, index).MoveToOuterDisposeScope(),
            VisualSpans = spans,
            TokenIds = rows.Select(p => state.TokenIds[(int)p]).ToArray(),
        };
    }

    static IEnumerable<long> Positions(VisualSpan span)
    {
        for (long p = span.Start; p < span.End; p++) yield return p;
    }
}

/// <summary>Tiny decoders and multimodal prompts for the pruning tests.</summary>
internal static class PruningTestKit
{
    public const int ImageTokenId = 0;

    /// <summary>A seeded 4-layer MHA LLaMA (float64 unless told), so pruning after layers 1..3 leaves layers on both sides.</summary>
    public static LlamaForCausalLM Model(ScalarType dtype = ScalarType.Float64, int seed = 7) =>
        TinyLlama.Create(TinyLlama.Mha with { NumLayers = 4 }, dtype, seed);

    /// <summary>
    /// Text ids, then visual spans: <paramref name="layout"/> alternates text lengths and image lengths,
    /// e.g. [3, 12, 5] = 3 text tokens, a 12-token image, 5 text tokens. Visual embeddings are seeded randn rows.
    /// </summary>
    public static MultimodalSequence Prompt(IDecoderStack lm, int[] layout, int seed = 11, int positionRows = 1, IReadOnlyList<int>? extraText = null)
    {
        using var scope = NewDisposeScope();
        var gen = new Random(seed);
        manual_seed(seed);
        var parts = new List<Tensor>();
        var ids = new List<int>();
        var spans = new List<VisualSpan>();
        var dtype = lm.Embed(tensor(new long[] { 1 }).unsqueeze(0)).dtype;
        for (int i = 0; i < layout.Length; i++)
        {
            if (i % 2 == 0)
            {
                var text = Enumerable.Range(0, layout[i]).Select(_ => gen.Next(1, lm.Dims.VocabSize)).ToArray();
                if (text.Length > 0) parts.Add(lm.Embed(tensor(text.Select(t => (long)t).ToArray(), ScalarType.Int64).unsqueeze(0)));
                ids.AddRange(text);
            }
            else
            {
                spans.Add(new VisualSpan(ids.Count, layout[i], spans.Count));
                parts.Add(randn([1, layout[i], lm.Dims.HiddenSize], dtype: dtype));
                ids.AddRange(Enumerable.Repeat(ImageTokenId, layout[i]));
            }
        }
        if (extraText is { Count: > 0 })
        {
            parts.Add(lm.Embed(tensor(extraText.Select(t => (long)t).ToArray(), ScalarType.Int64).unsqueeze(0)));
            ids.AddRange(extraText);
        }
        var embeddings = cat(parts.ToArray(), 1);
        var positions = arange(ids.Count, dtype: ScalarType.Int64).unsqueeze(0).expand(positionRows, ids.Count).contiguous();
        return new MultimodalSequence(embeddings.MoveToOuterDisposeScope(), positions.MoveToOuterDisposeScope(), spans, ids);
    }

    public static KvCache Cache(IDecoderStack lm, ScalarType dtype = ScalarType.Float64) => KvCache.For(lm.Dims, 1, 64, dtype);

    public static PruningSchedule Schedule(params (int AfterLayer, int Keep)[] stages) => new()
    {
        Name = "test",
        Stages = stages.Select(s => new PruningStage { AfterLayer = s.AfterLayer, Keep = s.Keep }).ToArray(),
    };
}
