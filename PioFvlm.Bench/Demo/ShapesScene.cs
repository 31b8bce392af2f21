namespace PioFvlm.Bench.Demo;

/// <summary>The shape kinds of the synthetic benchmark (singular word, plural word).</summary>
public enum ShapeKind { Circle, Square, Triangle }

/// <summary>The colours of the synthetic benchmark.</summary>
public enum ShapeColour { Red, Green, Blue, Yellow }

/// <summary>One solid shape: centre (x, y) and half-size <see cref="Radius"/> in pixels.</summary>
public sealed record ShapeObject(ShapeKind Kind, ShapeColour Colour, double X, double Y, double Radius);

/// <summary>One generated image: its size, the background seed, and the shapes on it.</summary>
public sealed record ShapesScene(int Size, int BackgroundSeed, IReadOnlyList<ShapeObject> Objects);

/// <summary>The question types; the benchmark's <c>category</c> field.</summary>
public static class ShapesQuestionType
{
    public const string Exist = "exist";
    public const string Colour = "colour";
    public const string Count = "count";
    public const string Position = "position";

    public static IReadOnlyList<string> All { get; } = [Exist, Colour, Count, Position];
}

/// <summary>
/// One question about a scene, with its one-word answer and the shapes it is about (<see cref="About"/>): the named
/// shape (colour, position), the counted shapes (count), and for existence the matching shape (yes) or the near misses
/// that share its kind or colour (no). The ground truth of which image regions the answer depends on.
/// </summary>
public sealed record ShapesQuestion(string Type, string Text, string Answer)
{
    public IReadOnlyList<ShapeObject> About { get; init; } = [];

    /// <summary>Value equality, <see cref="About"/> compared shape by shape (a record would compare the list instances).</summary>
    public bool Equals(ShapesQuestion? other) =>
        other is not null && Type == other.Type && Text == other.Text && Answer == other.Answer && About.SequenceEqual(other.About);

    public override int GetHashCode() => HashCode.Combine(Type, Text, Answer, About.Count);
}

/// <summary>The words the benchmark uses, so the tokenizer and the texts agree.</summary>
public static class ShapesWords
{
    public static string Name(ShapeKind k) => k switch
    {
        ShapeKind.Circle => "circle", ShapeKind.Square => "square", ShapeKind.Triangle => "triangle",
        _ => throw new ArgumentOutOfRangeException(nameof(k)),
    };

    public static string Plural(ShapeKind k) => Name(k) + "s";

    public static string Name(ShapeColour c) => c.ToString().ToLowerInvariant();

    /// <summary>LLaVA's short-answer instruction, appended to every question as in its eval scripts.</summary>
    public const string ShortAnswer = "Answer the question using a single word or phrase.";
}
