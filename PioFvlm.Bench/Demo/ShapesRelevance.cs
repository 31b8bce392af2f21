using PioFvlm.Core.Vision;

namespace PioFvlm.Bench.Demo;

/// <summary>
/// The visual tokens a shapes question depends on: those whose image rectangle holds at least one pixel centre inside
/// a shape the question is about (<see cref="ShapesQuestion.About"/>), the same pixel test the renderer draws with.
/// </summary>
public static class ShapesRelevance
{
    /// <summary>Indices into <paramref name="tokens"/> (one image rectangle per visual token), ascending.</summary>
    public static IReadOnlyList<long> Tokens(ShapesQuestion question, IReadOnlyList<ImageRect> tokens)
    {
        ArgumentNullException.ThrowIfNull(question);
        ArgumentNullException.ThrowIfNull(tokens);
        var relevant = new List<long>();
        for (int t = 0; t < tokens.Count; t++)
        {
            var r = tokens[t];
            if (!r.IsEmpty && question.About.Any(s => Covers(s, r))) relevant.Add(t);
        }
        return relevant;
    }

    static bool Covers(ShapeObject shape, ImageRect r)
    {
        for (int y = (int)Math.Floor(r.Y0); y < (int)Math.Ceiling(r.Y1); y++)
            for (int x = (int)Math.Floor(r.X0); x < (int)Math.Ceiling(r.X1); x++)
                if (x + 0.5 >= r.X0 && x + 0.5 < r.X1 && y + 0.5 >= r.Y0 && y + 0.5 < r.Y1 && ShapesRenderer.Inside(shape, x + 0.5, y + 0.5))
                    return true;
        return false;
    }
}
