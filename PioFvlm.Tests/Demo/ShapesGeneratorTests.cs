using PioFvlm.Bench.Demo;

namespace PioFvlm.Tests.Demo;

/// <summary>
/// The generator against its contract: every answer re-derived from the scene geometry (an independent reading of
/// the objects, not the generator's own bookkeeping), a fixed balanced question mix, no overlapping shapes, and
/// determinism per (seed, index).
/// </summary>
public class ShapesGeneratorTests
{
    static readonly ShapesGenerator Generator = new(new ShapesGeneratorOptions());
    static readonly IReadOnlyList<ShapesSample> Samples = Generator.Samples(seed: 11, count: 480).ToList();

    /// <summary>The answer a reader of the scene gives; "ambiguous"/"middle" where the question would be ill-posed.</summary>
    static string ExpectedAnswer(ShapesScene scene, ShapesQuestion q)
    {
        var objects = scene.Objects;
        var kind = Enum.GetValues<ShapeKind>().Single(k => q.Text.Contains(" " + ShapesWords.Name(k)));
        var ofKind = objects.Where(o => o.Kind == kind).ToList();
        return q.Type switch
        {
            ShapesQuestionType.Exist => objects.Any(o => o.Kind == kind && q.Text.Contains($" {ShapesWords.Name(o.Colour)} {ShapesWords.Name(kind)} ")) ? "yes" : "no",
            ShapesQuestionType.Colour => ofKind.Count == 1 ? ShapesWords.Name(ofKind[0].Colour) : "ambiguous",
            ShapesQuestionType.Count => ofKind.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ShapesQuestionType.Position => ofKind.Count != 1 ? "ambiguous" : ofKind[0].X <= 0.4 * scene.Size ? "left" : ofKind[0].X >= 0.6 * scene.Size ? "right" : "middle",
            _ => throw new AssertionException($"unknown type {q.Type}"),
        };
    }

    [Test]
    public void EveryAnswerFollowsFromTheScene()
    {
        foreach (var s in Samples)
            Assert.That(s.Question.Answer, Is.EqualTo(ExpectedAnswer(s.Scene, s.Question)), $"item {s.Index}: {s.Question.Text}");
    }

    /// <summary>What a reader of the scene says a question is about, from the scene and the question text alone.</summary>
    static List<ShapeObject> ExpectedAbout(ShapesScene scene, ShapesQuestion q)
    {
        var kind = Enum.GetValues<ShapeKind>().Single(k => q.Text.Contains(" " + ShapesWords.Name(k)));
        if (q.Type != ShapesQuestionType.Exist) return scene.Objects.Where(o => o.Kind == kind).ToList();
        var colour = Enum.GetValues<ShapeColour>().Single(c => q.Text.Contains($" {ShapesWords.Name(c)} "));
        return q.Answer == "yes"
            ? scene.Objects.Where(o => o.Kind == kind && o.Colour == colour).ToList()
            : scene.Objects.Where(o => o.Kind == kind || o.Colour == colour).ToList();
    }

    [Test]
    public void EveryQuestionNamesTheShapesItIsAbout()
    {
        foreach (var s in Samples)
        {
            var questions = Generator.FollowUps(11, s, 3).Prepend(s.Question);
            foreach (var q in questions)
            {
                Assert.That(q.About, Is.EquivalentTo(ExpectedAbout(s.Scene, q)), $"item {s.Index}: {q.Text}");
                Assert.That(q.About, Is.SubsetOf(s.Scene.Objects), $"item {s.Index}: About holds the scene's own shapes");
                if (q.Type == ShapesQuestionType.Count)
                    Assert.That(q.About, Has.Count.EqualTo(int.Parse(q.Answer, System.Globalization.CultureInfo.InvariantCulture)), $"item {s.Index}");
                if (q.Type is ShapesQuestionType.Colour or ShapesQuestionType.Position)
                    Assert.That(q.About, Has.Count.EqualTo(1), $"item {s.Index}: one named shape");
            }
            // Negatives built adversarially always have a near miss to look at.
            if (s.Question.Type == ShapesQuestionType.Exist) Assert.That(s.Question.About, Is.Not.Empty, $"item {s.Index}");
        }
    }

    [Test]
    public void FollowUpQuestionsAreWellPosedDistinctAndRepeatable()
    {
        var types = new HashSet<string>();
        foreach (var s in Samples.Take(100))
        {
            var followUps = Generator.FollowUps(11, s, 3);
            Assert.That(followUps, Has.Count.EqualTo(3), $"item {s.Index}");
            Assert.That(followUps.Append(s.Question).Distinct().Count(), Is.EqualTo(4), $"item {s.Index}: repeated question");
            foreach (var q in followUps)
            {
                Assert.That(q.Answer, Is.EqualTo(ExpectedAnswer(s.Scene, q)), $"item {s.Index}: {q.Text}");
                types.Add(q.Type);
            }
            Assert.That(Generator.FollowUps(11, s, 3), Is.EqualTo(followUps));
        }
        Assert.That(types, Is.EquivalentTo(ShapesQuestionType.All));
    }

    [Test]
    public void TheMixIsFixedAndBalanced()
    {
        Assert.That(Samples.Select(s => s.Question.Type), Is.EqualTo(Enumerable.Range(0, Samples.Count).Select(i => ShapesQuestionType.All[i % 4])));
        Dictionary<string, int> Answers(string type) => Samples.Where(s => s.Question.Type == type).GroupBy(s => s.Question.Answer).ToDictionary(g => g.Key, g => g.Count());
        Assert.That(Answers(ShapesQuestionType.Exist), Is.EquivalentTo(new Dictionary<string, int> { ["yes"] = 60, ["no"] = 60 }));
        Assert.That(Answers(ShapesQuestionType.Count), Is.EquivalentTo(new Dictionary<string, int> { ["1"] = 40, ["2"] = 40, ["3"] = 40 }));
        Assert.That(Answers(ShapesQuestionType.Position), Is.EquivalentTo(new Dictionary<string, int> { ["left"] = 60, ["right"] = 60 }));
        Assert.That(Answers(ShapesQuestionType.Colour).Keys, Is.EquivalentTo(new[] { "red", "green", "blue", "yellow" }));
    }

    [Test]
    public void NegativesAreAdversarial()
    {
        // Every "no" has the asked shape in another colour, or the asked colour on another shape, half each.
        var kinds = new List<string>();
        foreach (var s in Samples.Where(s => s.Question.Type == ShapesQuestionType.Exist && s.Question.Answer == "no"))
        {
            var kind = Enum.GetValues<ShapeKind>().Single(k => s.Question.Text.Contains(" " + ShapesWords.Name(k) + " "));
            var colour = Enum.GetValues<ShapeColour>().Single(c => s.Question.Text.Contains(" " + ShapesWords.Name(c) + " "));
            bool wrongColour = s.Scene.Objects.Any(o => o.Kind == kind && o.Colour != colour);
            bool wrongShape = s.Scene.Objects.Any(o => o.Colour == colour && o.Kind != kind);
            Assert.That(wrongColour || wrongShape, $"item {s.Index}: a negative without a near miss");
            kinds.Add(wrongColour ? "colour" : "shape");
        }
        Assert.That(kinds.Count(k => k == "colour"), Is.GreaterThanOrEqualTo(30));
    }

    [Test]
    public void ShapesDoNotOverlapAndStayInside()
    {
        var o = Generator.Options;
        foreach (var s in Samples)
        {
            Assert.That(s.Scene.Objects.Count, Is.InRange(2, 6), $"item {s.Index}");
            foreach (var a in s.Scene.Objects)
            {
                Assert.That(a.X - a.Radius, Is.GreaterThan(0));
                Assert.That(a.X + a.Radius, Is.LessThan(o.ImageSize));
                foreach (var b in s.Scene.Objects.Where(b => !ReferenceEquals(a, b)))
                    Assert.That(Math.Sqrt((a.X - b.X) * (a.X - b.X) + (a.Y - b.Y) * (a.Y - b.Y)), Is.GreaterThanOrEqualTo(a.Radius + b.Radius + o.MinGap - 1e-9));
            }
        }
    }

    [Test]
    public void ItemsArePureFunctionsOfSeedAndIndex()
    {
        var again = Generator.Sample(11, 123);
        Assert.That(again.Question, Is.EqualTo(Samples[123].Question));
        Assert.That(again.Scene.Objects, Is.EqualTo(Samples[123].Scene.Objects));
        Assert.That(ShapesRenderer.Render(again.Scene).Pixels, Is.EqualTo(ShapesRenderer.Render(Samples[123].Scene).Pixels));
        var otherSeed = Generator.Samples(12, 40).ToList();
        Assert.That(otherSeed.Select(s => s.Scene.Objects[0].X), Is.Not.EqualTo(Samples.Take(40).Select(s => s.Scene.Objects[0].X)));
    }

    [Test]
    public void ShapesAreDrawnInTheirColourAtTheirCentre()
    {
        foreach (var s in Samples.Take(40))
        {
            var image = ShapesRenderer.Render(s.Scene);
            foreach (var o in s.Scene.Objects)
            {
                int i = ((int)o.Y * image.Width + (int)o.X) * 3;
                var (r, g, b) = (image.Pixels[i], image.Pixels[i + 1], image.Pixels[i + 2]);
                bool ok = o.Colour switch
                {
                    ShapeColour.Red => r > 150 && g < 100 && b < 100,
                    ShapeColour.Green => g > 120 && r < 100 && b < 110,
                    ShapeColour.Blue => b > 160 && r < 100 && g < 130,
                    _ => r > 170 && g > 150 && b < 100,
                };
                Assert.That(ok, $"item {s.Index}: {o.Colour} {o.Kind} centre pixel is ({r},{g},{b})");
            }
        }
    }
}
