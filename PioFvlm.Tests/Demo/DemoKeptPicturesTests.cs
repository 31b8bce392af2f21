using PioFvlm.Bench.Demo;
using PioFvlm.Bench.Eval.Runner;
using PioFvlm.Core.Vision;
using PioFvlm.Tests.Overlays;
using PioFvlm.Tests.Pruning;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Demo;

/// <summary>The demo's kept-token pictures on the shipped model, and the relevant tokens they outline.</summary>
[NonParallelizable]
public class DemoKeptPicturesTests
{
    [Test]
    public void OnePicturePerTypeWithAPanelPerMethodAtElevenPercent()
    {
        using var dir = new TempDir();
        string config = Path.Combine(FastVTests.RepoRoot(), "configs", "demo.json");
        var run = RunConfigLoader.Load(config, [], environment: null, extraSections: ["Demo"]);
        var paths = DemoKeptPictures.Write(run, new ShapesGeneratorOptions(), 3, dir.Path);
        Assert.That(paths.Select(Path.GetFileName), Is.EqualTo(new[] { "exist.png", "colour.png", "count.png", "position.png" }));
        var generator = new ShapesGenerator(new ShapesGeneratorOptions());
        for (int q = 0; q < 4; q++)
        {
            var picture = ImageDecoder.Decode(paths[q]);
            var input = ShapesRenderer.Render(generator.Sample(3, q).Scene);
            // KeepAll + PioFvlm, Random, FastV, DART, VisionZip at 11.1 %: six 384 px panels (128 px at 3x).
            Assert.That((picture.Width, picture.Height), Is.EqualTo((8 + 6 * (384 + 8), 24 + 8 + 40 + 384 + 8)));
            Assert.That(OverlayCells.Highlighted(picture, input, 0, 3, 16), Has.Count.EqualTo(64), "KeepAll keeps every token");
            for (int panel = 1; panel < 6; panel++)
                Assert.That(OverlayCells.Highlighted(picture, input, panel, 3, 16), Has.Count.InRange(1, 7), $"{paths[q]} panel {panel}: at most the 7 tokens of 11.1 %");
            bool framed = false;
            for (int y = 0; y < 384 && !framed; y++)
                for (int x = 0; x < 384 && !framed; x++)
                    framed = OverlayCells.IsOutline(picture, 384, 0, x, y);
            Assert.That(framed, $"{paths[q]}: the tokens the question is about are outlined");
        }
        string section = DemoKeptPictures.Markdown(paths, dir.Path);
        Assert.That(section, Does.Contain("![count](kept/count.png)"));
    }

    [Test]
    public void RelevantTokensHoldAPixelOfAShapeTheQuestionIsAbout()
    {
        // A circle of radius 6 at (20, 20) on 16 px patches: pixel (14, 20) is inside (5.5² + 0.5² ≤ 36): patch (row 1,
        // col 0) = token 8; pixel (20, 15) is inside: token 1; token 9 holds the centre. Token 0's nearest pixel centre,
        // (15.5, 15.5), is 4.5·√2 ≈ 6.36 away: outside.
        var shape = new ShapeObject(ShapeKind.Circle, ShapeColour.Red, 20, 20, 6);
        var question = new ShapesQuestion("colour", "What colour is the circle?", "red") { About = [shape] };
        var tokens = ClipPatchGeometry.PatchRectangles(new ClipImageProcessorOptions { ShortestEdge = 128, CropWidth = 128, CropHeight = 128 }, 16, 128, 128);
        Assert.That(ShapesRelevance.Tokens(question, tokens), Is.EqualTo(new long[] { 1, 8, 9 }));
        Assert.That(ShapesRelevance.Tokens(question with { About = [] }, tokens), Is.Empty);
    }
}
