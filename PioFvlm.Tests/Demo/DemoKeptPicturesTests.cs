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
            // KeepAll + PioFvlm, Random, Oracle, FastV, DART, VisionZip at 11.1 % (config order): seven 384 px panels (128 px at 3x).
            Assert.That((picture.Width, picture.Height), Is.EqualTo((8 + 7 * (384 + 8), 24 + 8 + 40 + 384 + 8)));
            Assert.That(OverlayCells.Highlighted(picture, input, 0, 3, 16), Has.Count.EqualTo(64), "KeepAll keeps every token");
            for (int panel = 1; panel < 7; panel++)
                Assert.That(OverlayCells.Highlighted(picture, input, panel, 3, 16), Has.Count.InRange(1, 7), $"{paths[q]} panel {panel}: at most the 7 tokens of 11.1 %");
            // The Oracle (panel 3) got the question's relevant patches and keeps them first.
            var relevant = RelevantPatches.Of(generator.Sample(3, q), 8).Select(i => (int)i).ToArray();
            var oracle = OverlayCells.Highlighted(picture, input, 3, 3, 16);
            if (relevant.Length <= 7) Assert.That(relevant, Is.SubsetOf(oracle), $"{paths[q]}: the Oracle keeps every relevant patch");
            else Assert.That(oracle, Is.SubsetOf(relevant), $"{paths[q]}: the Oracle keeps only relevant patches");
            bool framed = false;
            for (int y = 0; y < 384 && !framed; y++)
                for (int x = 0; x < 384 && !framed; x++)
                    framed = OverlayCells.IsOutline(picture, 384, 0, x, y);
            Assert.That(framed, $"{paths[q]}: the tokens the question is about are outlined");
        }
        string section = DemoKeptPictures.Markdown(paths, dir.Path);
        Assert.That(section, Does.Contain("![count](kept/count.png)"));
    }
}
