using PioFvlm.Core.Pruning;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>
/// Hand-made CLIP signals for the encoder-side baselines (VisionZip, SCOPE, HoloV), as plain arrays (for the
/// brute-force references) and as the <see cref="IVisionSignals"/> the reducers read. The "projector" is a fixed
/// matrix W: projected row = hidden row · W.
/// </summary>
internal sealed class EncoderSignalData
{
    public required int Grid { get; init; }
    /// <summary>[heads][patches]: softmax CLS rows restricted to the patch keys.</summary>
    public required double[][] Cls { get; init; }
    /// <summary>[heads][1 + patches][d]: keys, CLS first.</summary>
    public required double[][][] Keys { get; init; }
    /// <summary>[1 + patches][H]: hidden state of the feature layer, CLS first.</summary>
    public required double[][] Hidden { get; init; }
    /// <summary>[H][H_text].</summary>
    public required double[][] W { get; init; }

    public int Patches => Grid * Grid;

    public double[] Project(double[] row) =>
        Enumerable.Range(0, W[0].Length).Select(c => row.Select((v, r) => v * W[r][c]).Sum()).ToArray();

    /// <summary>Projected patch features (the context's features), [patches][H_text].</summary>
    public double[][] Features => Hidden.Skip(1).Select(Project).ToArray();

    public static EncoderSignalData Random(int grid, int seed, int heads = 3, int keyDim = 4, int hidden = 6, int text = 5)
    {
        var rng = new Random(seed);
        double U() => rng.NextDouble() * 2 - 1;
        int n = grid * grid;
        var cls = Enumerable.Range(0, heads).Select(_ =>
        {
            var logits = Enumerable.Range(0, n + 1).Select(_ => 3 * U()).ToArray();
            double z = logits.Sum(Math.Exp);
            return logits.Skip(1).Select(l => Math.Exp(l) / z).ToArray();
        }).ToArray();
        return new EncoderSignalData
        {
            Grid = grid,
            Cls = cls,
            Keys = Enumerable.Range(0, heads).Select(_ => Enumerable.Range(0, n + 1).Select(_ => Enumerable.Range(0, keyDim).Select(_ => U()).ToArray()).ToArray()).ToArray(),
            Hidden = Enumerable.Range(0, n + 1).Select(_ => Enumerable.Range(0, hidden).Select(_ => U()).ToArray()).ToArray(),
            W = Enumerable.Range(0, hidden).Select(_ => Enumerable.Range(0, text).Select(_ => U()).ToArray()).ToArray(),
        };
    }

    public static Tensor ToTensor(double[][] rows) =>
        tensor(rows.SelectMany(r => r).Select(v => (float)v).ToArray(), [rows.Length, rows[0].Length]);

    public static Tensor ToTensor(double[][][] blocks) =>
        tensor(blocks.SelectMany(b => b.SelectMany(r => r)).Select(v => (float)v).ToArray(), [blocks.Length, blocks[0].Length, blocks[0][0].Length]);

    public static double[][] Rows(Tensor t)
    {
        var flat = t.to(ScalarType.Float64).cpu().data<double>().ToArray();
        int width = (int)t.shape[1];
        return Enumerable.Range(0, (int)t.shape[0]).Select(r => flat.Skip(r * width).Take(width).ToArray()).ToArray();
    }

    /// <summary>The context a reducer sees (tensors in the caller's dispose scope); layer −2 of a 24-layer tower
    /// (= layer 22, hidden state 23) serves every signal.</summary>
    public VisionStageContext Context() => new(0, ToTensor(Features), new FakeSignals(this));

    sealed class FakeSignals(EncoderSignalData data) : IVisionSignals
    {
        const int Layers = 24;
        readonly Tensor _cls = ToTensor(data.Cls), _keys = ToTensor(data.Keys), _hidden = ToTensor(data.Hidden), _w = ToTensor(data.W);
        public int EncoderLayers => Layers;
        public int GridHeight => data.Grid;
        public int GridWidth => data.Grid;
        public bool FeaturesIncludeCls => false;
        public Tensor SelectedFeatures => _hidden.narrow(0, 1, data.Patches);
        public Tensor ClsAttention(int layer) => VisionSignalRequest.ResolveLayer(layer, Layers) == 22 ? _cls : throw new InvalidOperationException($"layer {layer} not faked");
        public Tensor Keys(int layer) => VisionSignalRequest.ResolveLayer(layer, Layers) == 22 ? _keys : throw new InvalidOperationException($"keys {layer} not faked");
        public Tensor HiddenState(int index) => VisionSignalRequest.ResolveHiddenState(index, Layers) == 23 ? _hidden : throw new InvalidOperationException($"hidden state {index} not faked");
        public Tensor Project(Tensor visionFeatures) => matmul(visionFeatures, _w);
    }
}
