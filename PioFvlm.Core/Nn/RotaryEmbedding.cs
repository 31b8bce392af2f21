using static TorchSharp.torch;

namespace PioFvlm.Core.Nn;

/// <summary>
/// Rotary position embedding, rotate-half ("NeoX") layout as HF LLaMA/Mistral/Qwen2. Positions come as an
/// <c>[R, S]</c> int64 tensor: R = 1 for ordinary RoPE; R = 3 with an M-RoPE section (Qwen2.5-VL t/h/w rows),
/// where frequency slot j takes its angle from row i of the section containing j.
/// Not a module on purpose: inv_freq must stay fp32 whatever dtype the model is moved to, and must not appear in
/// the state dict.
/// </summary>
public sealed class RotaryEmbedding
{
    private readonly float[] _invFreq;
    private readonly int[]? _mropeSection;

    public int HeadDim { get; }
    public double Theta { get; }

    /// <summary>inv_freq[i] = 1 / θ^(2i/headDim), i &lt; headDim/2, computed in fp32 the way HF does.</summary>
    public IReadOnlyList<float> InverseFrequencies => _invFreq;

    /// <param name="headDim">Even per-head width.</param>
    /// <param name="theta">RoPE base.</param>
    /// <param name="mropeSection">M-RoPE split of the headDim/2 frequency slots over position rows (e.g. [16, 24, 24]);
    /// null for ordinary 1-row RoPE.</param>
    public RotaryEmbedding(int headDim, double theta, int[]? mropeSection = null)
    {
        if (headDim <= 0 || headDim % 2 != 0)
            throw new ArgumentException($"RotaryEmbedding: headDim must be positive and even, got {headDim}");
        if (mropeSection is not null && (mropeSection.Sum() != headDim / 2 || mropeSection.Any(s => s <= 0)))
            throw new ArgumentException($"RotaryEmbedding: mropeSection [{string.Join(", ", mropeSection)}] must be positive and sum to headDim/2 = {headDim / 2}");
        HeadDim = headDim;
        Theta = theta;
        _mropeSection = mropeSection?.ToArray();
        using var _ = NewDisposeScope();
        // HF: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), all in fp32.
        var exponents = arange(0, headDim, 2, dtype: ScalarType.Int64).to_type(ScalarType.Float32) / (float)headDim;
        var invFreq = full_like(exponents, (float)theta).pow(exponents).reciprocal();
        _invFreq = invFreq.data<float>().ToArray();
    }

    /// <summary>Rows of position ids this embedding expects (1, or the M-RoPE section count).</summary>
    public int PositionRows => _mropeSection?.Length ?? 1;

    /// <summary>
    /// cos/sin tables [S, headDim] for <paramref name="positionIds"/> [R, S] (int64). Angles and cos/sin are computed
    /// in fp32 (fp64 when <paramref name="dtype"/> is fp64), then cast to <paramref name="dtype"/>, as HF does.
    /// </summary>
    public RopeTables Tables(Tensor positionIds, ScalarType dtype)
    {
        if (positionIds.dim() != 2 || positionIds.shape[0] != PositionRows)
            throw new ArgumentException($"RotaryEmbedding: position ids must be [{PositionRows}, S], got [{string.Join(", ", positionIds.shape)}]");
        if (positionIds.dtype != ScalarType.Int64)
            throw new ArgumentException($"RotaryEmbedding: position ids must be Int64, got {positionIds.dtype}");
        using var _ = NewDisposeScope();
        var computeType = dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var invFreq = tensor(_invFreq, device: positionIds.device).to_type(computeType);          // [D/2]
        var angles = positionIds.to_type(computeType).unsqueeze(-1) * invFreq;                     // [R, S, D/2]
        Tensor freqs;
        if (_mropeSection is null)
            freqs = angles[0];
        else
        {
            var chunks = new List<Tensor>();
            long start = 0;
            for (int row = 0; row < _mropeSection.Length; row++)
            {
                chunks.Add(angles[row].narrow(-1, start, _mropeSection[row]));
                start += _mropeSection[row];
            }
            freqs = cat(chunks, -1);
        }
        var emb = cat([freqs, freqs], -1);                                                          // [S, D]
        var cosT = emb.cos().to_type(dtype).MoveToOuterDisposeScope();
        var sinT = emb.sin().to_type(dtype).MoveToOuterDisposeScope();
        return new RopeTables(cosT, sinT);
    }

    /// <summary>[-x2, x1] where x1, x2 are the two halves of the last axis.</summary>
    public static Tensor RotateHalf(Tensor x)
    {
        long half = x.shape[^1] / 2;
        using var _ = NewDisposeScope();
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        return cat([x2.neg(), x1], -1).MoveToOuterDisposeScope();
    }

    /// <summary><c>x * cos + rotate_half(x) * sin</c> for x [B, H, S, D] and tables [S, D].</summary>
    public static Tensor Apply(Tensor x, RopeTables rope)
    {
        if (x.shape[^2] != rope.Cos.shape[0] || x.shape[^1] != rope.Cos.shape[1])
            throw new ArgumentException($"RotaryEmbedding.Apply: input [{string.Join(", ", x.shape)}] does not match tables [{string.Join(", ", rope.Cos.shape)}] (sequence, headDim)");
        using var _ = NewDisposeScope();
        return (x * rope.Cos + RotateHalf(x) * rope.Sin).MoveToOuterDisposeScope();
    }
}
