using System.Globalization;
using System.Text.Json;

namespace PioFvlm.Bench.Macro;

/// <summary>
/// Measured cost of one decoder layer at a few sequence lengths, read between the points by piecewise-linear
/// interpolation in n and beyond the ends by extending the first or last segment (one point: cost ∝ n).
/// JSON form: <c>{"22": 51.3, "64": 120.0, ...}</c> (tokens → ms).
/// </summary>
public sealed class CostCurve
{
    readonly int[] _tokens;
    readonly double[] _ms;

    public IReadOnlyList<int> Tokens => _tokens;
    public IReadOnlyList<double> Milliseconds => _ms;

    public CostCurve(IReadOnlyDictionary<int, double> points)
    {
        if (points.Count == 0) throw new ArgumentException("a cost curve needs at least one measured point");
        foreach (var (n, ms) in points)
        {
            if (n <= 0) throw new ArgumentException($"cost curve point n = {n}: token counts must be positive");
            if (!(ms > 0) || double.IsInfinity(ms)) throw new ArgumentException($"cost curve point n = {n}: cost {ms} ms must be positive and finite");
        }
        _tokens = points.Keys.Order().ToArray();
        _ms = _tokens.Select(n => points[n]).ToArray();
    }

    /// <summary>Interpolated cost (ms) of one layer over <paramref name="n"/> tokens.</summary>
    public double At(double n)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), $"sequence length {n} is negative");
        if (_tokens.Length == 1) return _ms[0] * n / _tokens[0];
        int hi = 1;
        while (hi < _tokens.Length - 1 && _tokens[hi] < n) hi++;
        int lo = hi - 1;
        double t = (n - _tokens[lo]) / (_tokens[hi] - _tokens[lo]);
        return _ms[lo] + t * (_ms[hi] - _ms[lo]);
    }

    public static CostCurve Load(string path)
    {
        Dictionary<string, double>? raw;
        try { raw = JsonSerializer.Deserialize<Dictionary<string, double>>(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not a {{tokens: ms}} JSON object ({e.Message})", e); }
        if (raw == null) throw new InvalidDataException($"{path}: empty cost curve");
        var points = new Dictionary<int, double>();
        foreach (var (key, ms) in raw)
        {
            if (!int.TryParse(key, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n))
                throw new InvalidDataException($"{path}: key '{key}' is not a token count");
            points[n] = ms;
        }
        return new CostCurve(points);
    }

    public static string ToJson(IReadOnlyDictionary<int, double> points) =>
        JsonSerializer.Serialize(points.OrderBy(p => p.Key).ToDictionary(p => p.Key.ToString(CultureInfo.InvariantCulture), p => Math.Round(p.Value, 2)),
            new JsonSerializerOptions { WriteIndented = true });
}
