using PioFvlm.Core.Pruning.PreLlm;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>The Downsample control against explicit per-cell averages in float64.</summary>
public class DownsampleTests
{
    /// <summary>Cell (r, c) = mean of the rows ⌊r·H/h⌋ … ⌈(r+1)·H/h⌉ − 1 and the columns likewise, raster order.</summary>
    internal static double[][] Reference(double[][] features, int height, int width, int rows, int columns)
    {
        var output = new List<double[]>();
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
            {
                int r0 = r * height / rows, r1 = ((r + 1) * height + rows - 1) / rows;
                int c0 = c * width / columns, c1 = ((c + 1) * width + columns - 1) / columns;
                var sum = new double[features[0].Length];
                for (int y = r0; y < r1; y++)
                    for (int x = c0; x < c1; x++)
                        for (int k = 0; k < sum.Length; k++) sum[k] += features[y * width + x][k];
                output.Add(sum.Select(v => v / ((r1 - r0) * (c1 - c0))).ToArray());
            }
        return output.ToArray();
    }

    [TestCase(24, 64, 8)]
    [TestCase(24, 128, 11)]
    [TestCase(24, 192, 14)]
    [TestCase(24, 576, 24)]
    [TestCase(24, 5000, 24)]
    [TestCase(7, 12, 3)]
    [TestCase(8, 21, 5)]
    [TestCase(24, 1, 1)]
    public void ThePooledGridIsTheNearestSquare(int side, int budget, int pooled) =>
        Assert.That(Downsample.PooledGrid(side, side, budget), Is.EqualTo((pooled, pooled)));

    [Test]
    public void NonSquareGridsScaleBothSides() =>
        // Qwen-style 16 × 36 merged grid at a quarter of its 576 tokens: s = 1/2 → 8 × 18 = 144.
        Assert.That(Downsample.PooledGrid(16, 36, 144), Is.EqualTo((8, 18)));

    [TestCase(6, 9)]
    [TestCase(7, 12)]
    [TestCase(6, 16)]
    [TestCase(5, 3)]
    public void ReduceAveragesWhatTheReferenceAverages(int grid, int budget)
    {
        var data = EncoderSignalData.Random(grid, seed: grid * 10 + budget);
        var (rows, columns) = Downsample.PooledGrid(grid, grid, budget);
        using var scope = NewDisposeScope();
        var reduced = new Downsample(budget).Reduce(data.Context());
        var expected = Reference(data.Features, grid, grid, rows, columns);
        Assert.That(EncoderSignalData.Rows(reduced.Features), Is.EqualTo(expected).Within(1e-5));
        Assert.That(reduced.KeptIndices, Has.Length.EqualTo(rows * columns).And.All.EqualTo(-1L));
    }

    [Test]
    public void HandCase_EqualCellsOnAnEvenDivision()
    {
        // 4 × 4 grid, value = token index, to 2 × 2: cell (0, 0) = mean(0, 1, 4, 5) = 2.5, (0, 1) = 4.5, (1, 0) = 10.5, (1, 1) = 12.5.
        var features = Enumerable.Range(0, 16).Select(i => new double[] { i }).ToArray();
        Assert.That(Reference(features, 4, 4, 2, 2).Select(r => r[0]), Is.EqualTo(new[] { 2.5, 4.5, 10.5, 12.5 }));
        var data = EncoderSignalData.Random(4, 1);
        using var scope = NewDisposeScope();
        var context = data.Context() with { Features = arange(16, ScalarType.Float32).reshape(16, 1) };
        var pooled = new Downsample(4).Reduce(context).Features.data<float>().ToArray();
        Assert.That(pooled, Is.EqualTo(new[] { 2.5f, 4.5f, 10.5f, 12.5f }));
    }

    [Test]
    public void AFullBudgetKeepsTheTokensUnchanged()
    {
        var data = EncoderSignalData.Random(5, 2);
        using var scope = NewDisposeScope();
        var reduced = new Downsample(25).Reduce(data.Context());
        Assert.That(reduced.KeptIndices, Is.EqualTo(Enumerable.Range(0, 25).Select(i => (long)i)));
        Assert.That(EncoderSignalData.Rows(reduced.Features), Is.EqualTo(data.Features).Within(1e-6));
    }
}
