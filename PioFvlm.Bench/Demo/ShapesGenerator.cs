namespace PioFvlm.Bench.Demo;

/// <summary>One generated benchmark item: the scene to draw and the question about it.</summary>
public sealed record ShapesSample(int Index, ShapesScene Scene, ShapesQuestion Question);

/// <summary>
/// The synthetic visual QA benchmark: item <c>i</c> of generator seed <c>s</c> is a pure function of (s, i), so any
/// slice can be regenerated alone. The question mix is fixed by the index: types cycle exist, colour, count, position
/// (25 % each); within a type the answers are balanced the same way (yes/no alternate, counts cycle 1-2-3, sides
/// alternate, negatives alternate between "right shape, wrong colour" and "right colour, wrong shape"). Each scene is
/// built for its question, with distractors, so the answer always depends on one or a few small regions.
/// </summary>
public sealed class ShapesGenerator(ShapesGeneratorOptions options)
{
    public ShapesGeneratorOptions Options { get; } = options;

    static readonly ShapeKind[] Kinds = Enum.GetValues<ShapeKind>();
    static readonly ShapeColour[] Colours = Enum.GetValues<ShapeColour>();

    public ShapesSample Sample(int seed, int index)
    {
        if (index < 0) throw new ArgumentOutOfRangeException(nameof(index), $"item index must be non-negative, got {index}");
        var rng = new Random(unchecked(seed * 1_000_003 + index * 7_919 + 17));
        string type = ShapesQuestionType.All[index % 4];
        int round = index / 4;
        for (int attempt = 0; ; attempt++)
        {
            var sample = type switch
            {
                ShapesQuestionType.Exist => Exist(rng, round),
                ShapesQuestionType.Colour => Colour(rng),
                ShapesQuestionType.Count => Count(rng, round),
                _ => Position(rng, round),
            };
            if (sample is { } s) return new ShapesSample(index, s.Item1, s.Item2);
            if (attempt > 1000) throw new InvalidOperationException($"could not place the shapes of item {index} (seed {seed}); the image is too small for the shape sizes");
        }
    }

    public IEnumerable<ShapesSample> Samples(int seed, int count, int first = 0)
    {
        for (int i = first; i < first + count; i++) yield return Sample(seed, i);
    }

    /// <summary>
    /// Further questions about an item's scene, for multi-turn training: any type whose answer the scene defines
    /// (colour and position need exactly one shape of the kind, position one clear of the middle fifth; counts 1-3).
    /// A pure function of (seed, item index).
    /// </summary>
    public IReadOnlyList<ShapesQuestion> FollowUps(int seed, ShapesSample sample, int count)
    {
        var rng = new Random(unchecked(seed * 7_777_777 + sample.Index * 31 + 5));
        var objects = sample.Scene.Objects;
        int size = sample.Scene.Size;
        var candidates = new List<ShapesQuestion>();
        foreach (var kind in Kinds)
        {
            var ofKind = objects.Where(o => o.Kind == kind).ToList();
            foreach (var colour in Colours)
            {
                bool yes = ofKind.Any(o => o.Colour == colour);
                candidates.Add(new ShapesQuestion(ShapesQuestionType.Exist, $"Is there a {ShapesWords.Name(colour)} {ShapesWords.Name(kind)} in the image?", yes ? "yes" : "no")
                    { About = ExistAbout(objects, kind, colour) });
            }
            if (ofKind.Count is >= 1 and <= 3)
                candidates.Add(new ShapesQuestion(ShapesQuestionType.Count, $"How many {ShapesWords.Plural(kind)} are there?",
                    ofKind.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)) { About = ofKind });
            if (ofKind.Count != 1) continue;
            candidates.Add(new ShapesQuestion(ShapesQuestionType.Colour, $"What color is the {ShapesWords.Name(kind)}?", ShapesWords.Name(ofKind[0].Colour)) { About = ofKind });
            if (ofKind[0].X <= 0.4 * size || ofKind[0].X >= 0.6 * size)
                candidates.Add(new ShapesQuestion(ShapesQuestionType.Position, $"Is the {ShapesWords.Name(kind)} on the left or right side of the image?",
                    ofKind[0].X <= 0.4 * size ? "left" : "right") { About = ofKind });
        }
        // Draw a type first (exist questions outnumber the rest), then a question of that type; no repeats.
        var result = new List<ShapesQuestion>();
        for (int i = 0; i < count; i++)
        {
            // By text: the item's own question is an equal question built apart (its About is another list instance).
            var open = candidates.Where(c => !result.Contains(c) && c.Text != sample.Question.Text).ToList();
            var types = open.Select(c => c.Type).Distinct().ToList();
            if (types.Count == 0) break;
            string type = types[rng.Next(types.Count)];
            var ofType = open.Where(c => c.Type == type).ToList();
            result.Add(ofType[rng.Next(ofType.Count)]);
        }
        return result;
    }

    (ShapesScene Scene, ShapesQuestion Question)? Exist(Random rng, int round)
    {
        var kind = Pick(rng, Kinds);
        var colour = Pick(rng, Colours);
        bool yes = round % 2 == 0;
        var wanted = new List<(ShapeKind, ShapeColour)>();
        if (yes) wanted.Add((kind, colour));
        else if (round / 2 % 2 == 0) wanted.Add((kind, Pick(rng, Colours.Where(c => c != colour))));   // right shape, wrong colour
        else wanted.Add((Pick(rng, Kinds.Where(k => k != kind)), colour));                              // right colour, wrong shape
        int distractors = rng.Next(2, 5);
        for (int i = 0; i < distractors; i++)
        {
            var k = Pick(rng, Kinds);
            var c = Pick(rng, Colours);
            if (!yes && k == kind && c == colour) { i--; continue; }
            wanted.Add((k, c));
        }
        var scene = Place(rng, wanted, target: null);
        if (scene is null) return null;
        string text = $"Is there a {ShapesWords.Name(colour)} {ShapesWords.Name(kind)} in the image?";
        return (scene, new ShapesQuestion(ShapesQuestionType.Exist, text, yes ? "yes" : "no") { About = ExistAbout(scene.Objects, kind, colour) });
    }

    (ShapesScene, ShapesQuestion)? Colour(Random rng)
    {
        var kind = Pick(rng, Kinds);
        var colour = Pick(rng, Colours);
        var wanted = new List<(ShapeKind, ShapeColour)> { (kind, colour) };
        int distractors = rng.Next(2, 5);
        for (int i = 0; i < distractors; i++) wanted.Add((Pick(rng, Kinds.Where(k => k != kind)), Pick(rng, Colours)));
        var scene = Place(rng, wanted, target: null);
        if (scene is null) return null;
        return (scene, new ShapesQuestion(ShapesQuestionType.Colour, $"What color is the {ShapesWords.Name(kind)}?", ShapesWords.Name(colour))
            { About = OfKind(scene, kind) });
    }

    (ShapesScene, ShapesQuestion)? Count(Random rng, int round)
    {
        var kind = Pick(rng, Kinds);
        int count = 1 + round % 3;
        var wanted = new List<(ShapeKind, ShapeColour)>();
        for (int i = 0; i < count; i++) wanted.Add((kind, Pick(rng, Colours)));
        int distractors = rng.Next(1, 4);
        for (int i = 0; i < distractors; i++) wanted.Add((Pick(rng, Kinds.Where(k => k != kind)), Pick(rng, Colours)));
        var scene = Place(rng, wanted, target: null);
        if (scene is null) return null;
        return (scene, new ShapesQuestion(ShapesQuestionType.Count, $"How many {ShapesWords.Plural(kind)} are there?", count.ToString(System.Globalization.CultureInfo.InvariantCulture))
            { About = OfKind(scene, kind) });
    }

    (ShapesScene, ShapesQuestion)? Position(Random rng, int round)
    {
        var kind = Pick(rng, Kinds);
        bool left = round % 2 == 0;
        var wanted = new List<(ShapeKind, ShapeColour)> { (kind, Pick(rng, Colours)) };
        int distractors = rng.Next(2, 5);
        for (int i = 0; i < distractors; i++) wanted.Add((Pick(rng, Kinds.Where(k => k != kind)), Pick(rng, Colours)));
        var scene = Place(rng, wanted, target: left ? -1 : 1);
        if (scene is null) return null;
        string text = $"Is the {ShapesWords.Name(kind)} on the left or right side of the image?";
        return (scene, new ShapesQuestion(ShapesQuestionType.Position, text, left ? "left" : "right") { About = OfKind(scene, kind) });
    }

    /// <summary>
    /// Places the wanted shapes without overlap, in a random order of drawing; <paramref name="target"/> −1 / +1 keeps
    /// the first shape's centre in the left / right 40 % of the image. Null when the shapes do not fit.
    /// </summary>
    ShapesScene? Place(Random rng, List<(ShapeKind Kind, ShapeColour Colour)> wanted, int? target)
    {
        int size = Options.ImageSize;
        var placed = new List<ShapeObject>();
        for (int i = 0; i < wanted.Count; i++)
        {
            double r = Options.MinRadius + rng.NextDouble() * (Options.MaxRadius - Options.MinRadius);
            ShapeObject? shape = null;
            for (int attempt = 0; attempt < 200 && shape is null; attempt++)
            {
                double lo = r + 2, hi = size - r - 2;
                double x = lo + rng.NextDouble() * (hi - lo), y = lo + rng.NextDouble() * (hi - lo);
                if (i == 0 && target == -1 && x > 0.4 * size) continue;
                if (i == 0 && target == 1 && x < 0.6 * size) continue;
                if (placed.Any(p => Math.Sqrt((p.X - x) * (p.X - x) + (p.Y - y) * (p.Y - y)) < p.Radius + r + Options.MinGap)) continue;
                shape = new ShapeObject(wanted[i].Kind, wanted[i].Colour, x, y, r);
            }
            if (shape is null) return null;
            placed.Add(shape);
        }
        var order = placed.OrderBy(_ => rng.Next()).ToList();
        return new ShapesScene(size, rng.Next(), order);
    }

    static List<ShapeObject> OfKind(ShapesScene scene, ShapeKind kind) => scene.Objects.Where(o => o.Kind == kind).ToList();

    /// <summary>What an existence question is about: the matching shapes when there are any, else the near misses
    /// (same kind or same colour) that have to be looked at to answer "no".</summary>
    static List<ShapeObject> ExistAbout(IReadOnlyList<ShapeObject> objects, ShapeKind kind, ShapeColour colour)
    {
        var matching = objects.Where(o => o.Kind == kind && o.Colour == colour).ToList();
        return matching.Count > 0 ? matching : objects.Where(o => o.Kind == kind || o.Colour == colour).ToList();
    }

    static T Pick<T>(Random rng, IEnumerable<T> items)
    {
        var list = items as IReadOnlyList<T> ?? items.ToList();
        return list[rng.Next(list.Count)];
    }
}

/// <summary>Image size and shape sizes of the generator (pixels).</summary>
public sealed record ShapesGeneratorOptions
{
    public int ImageSize { get; init; } = 128;
    public double MinRadius { get; init; } = 6;
    public double MaxRadius { get; init; } = 9;

    /// <summary>Least free space between two shapes' bounding circles.</summary>
    public double MinGap { get; init; } = 3;
}
