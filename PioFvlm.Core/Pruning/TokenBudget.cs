using System.Globalization;

namespace PioFvlm.Core.Pruning;

/// <summary>
/// How many visual tokens a stage keeps: an absolute count (<see cref="Keep"/>, the LLaVA-1.5 reference's budgets) or
/// a fraction of the count it sees (<see cref="Ratio"/>, the Qwen reference's <c>int(ρ·N)</c>), so one budget fits
/// images of every size. Resolved per image (or crop) with <see cref="Resolve(long)"/>. An <c>int</c> converts to
/// <c>Keep(n)</c>.
/// </summary>
public sealed record TokenBudget
{
    /// <summary>The absolute count, or null for a ratio budget.</summary>
    public int? Count { get; }

    /// <summary>The fraction in [0, 1], or null for an absolute budget.</summary>
    public double? Fraction { get; }

    TokenBudget(int? count, double? fraction) => (Count, Fraction) = (count, fraction);

    /// <summary>Keep <paramref name="count"/> tokens (all of them when fewer come in).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative count.</exception>
    public static TokenBudget Keep(int count) => count >= 0 ? new(count, null)
        : throw new ArgumentOutOfRangeException(nameof(count), count, $"a token budget of {count} is negative");

    /// <summary>Keep ⌊<paramref name="fraction"/> · N⌋ of the N tokens that come in.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A fraction outside [0, 1] or not a number.</exception>
    public static TokenBudget Ratio(double fraction) => fraction is >= 0 and <= 1 ? new(null, fraction)
        : throw new ArgumentOutOfRangeException(nameof(fraction), fraction, $"a token budget ratio of {fraction} is outside [0, 1]");

    public static implicit operator TokenBudget(int count) => Keep(count);

    /// <summary>Tokens kept out of <paramref name="count"/>: min(Keep, N) or ⌊ratio · N⌋ (the reference's int()).</summary>
    public int Resolve(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return Count is int keep ? Math.Min(keep, count) : (int)FloorOf(Fraction!.Value, count);
    }

    /// <summary>As <see cref="Resolve(int)"/> for a 64-bit count.</summary>
    public long Resolve(long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return Count is int keep ? Math.Min(keep, count) : FloorOf(Fraction!.Value, count);
    }

    /// <summary>
    /// ⌊<paramref name="fraction"/> · <paramref name="count"/>⌋ (the reference's <c>int(ρ·N)</c>), except that a
    /// product within 1e-9 below a whole number counts as that number: a fraction written as a quotient is rarely exact
    /// in binary (92/576 · 2880 is 459.99999999999994 in doubles, 460 in fact), and such a product is rounding noise,
    /// never a budget someone meant.
    /// </summary>
    public static long FloorOf(double fraction, long count) => (long)Math.Floor(fraction * count + 1e-9);

    /// <summary>"96" for a count, "x0.167" for a ratio.</summary>
    public override string ToString() =>
        Count is int keep ? keep.ToString(CultureInfo.InvariantCulture) : "x" + Fraction!.Value.ToString(CultureInfo.InvariantCulture);
}
