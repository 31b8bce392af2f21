using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PioFvlm.Models.Qwen25Vl;

/// <summary>
/// Vision self-attention (HF Qwen2_5_VLVisionAttention): fused <c>qkv</c> (rows [q; k; v], heads × head_dim each),
/// 2-D rotary embedding in fp32, attention inside each segment, <c>proj</c>. Both linears have biases.
/// </summary>
public sealed class Qwen25VlVisionAttention : nn.Module<Tensor, Qwen25VlVisionRope, IReadOnlyList<long>, Tensor>
{
    [ComponentName(Name = "qkv")] private readonly Linear _qkv;
    [ComponentName(Name = "proj")] private readonly Linear _proj;

    public int NumHeads { get; }
    public int HeadDim { get; }

    public Qwen25VlVisionAttention(string name, int hidden, int heads, Device? device = null) : base(name)
    {
        NumHeads = heads;
        HeadDim = hidden / heads;
        _qkv = nn.Linear(hidden, 3L * hidden, hasBias: true, device: device);
        _proj = nn.Linear(hidden, hidden, hasBias: true, device: device);
        RegisterComponents();
    }

    /// <param name="x">Normed patches [N, hidden] in window order.</param>
    /// <param name="rope">cos/sin [N, head_dim] (fp32) in the same order.</param>
    /// <param name="cuSeqlens">Segment offsets: attention stays inside each segment.</param>
    public override Tensor forward(Tensor x, Qwen25VlVisionRope rope, IReadOnlyList<long> cuSeqlens)
    {
        using var _ = NewDisposeScope();
        long n = x.shape[0];
        var qkv = _qkv.forward(x).reshape(n, 3, NumHeads, HeadDim).permute(1, 0, 2, 3);   // [3, N, H, d]
        var q = rope.Apply(qkv[0]);
        var k = rope.Apply(qkv[1]);
        var attn = Qwen25VlSegmentAttention.Attend(q, k, qkv[2].contiguous(), cuSeqlens);
        return _proj.forward(attn.reshape(n, -1)).MoveToOuterDisposeScope();
    }

    /// <summary>Probabilities per query chunk: at most this many fp32 values are alive at once (64 MiB).</summary>
    const long ReceivedChunkElements = 1L << 24;

    /// <summary>
    /// A side computation beside the fused <see cref="forward"/> (same q, k and rotary embedding): per head, the
    /// attention each row receives, softmax(q · kᵀ / √d) over its segment in fp32, averaged over the segment's query
    /// rows. [heads, N] float32 in x's row order. Query rows go in chunks, so no N × N map is ever held.
    /// </summary>
    public Tensor ReceivedAttention(Tensor x, Qwen25VlVisionRope rope, IReadOnlyList<long> cuSeqlens)
    {
        using var _ = NewDisposeScope();
        long n = x.shape[0];
        if (cuSeqlens.Count < 2 || cuSeqlens[0] != 0 || cuSeqlens[^1] != n)
            throw new ArgumentException($"segment offsets must run from 0 to {n} (the packed length), got [{string.Join(", ", cuSeqlens)}]");
        var qkv = _qkv.forward(x).reshape(n, 3, NumHeads, HeadDim).permute(1, 0, 2, 3);   // [3, N, H, d]
        var q = rope.Apply(qkv[0]).to_type(ScalarType.Float32).transpose(0, 1);            // [H, N, d]
        var k = rope.Apply(qkv[1]).to_type(ScalarType.Float32).transpose(0, 1);
        var received = zeros(NumHeads, n, dtype: ScalarType.Float32, device: x.device);
        double scale = 1.0 / Math.Sqrt(HeadDim);
        for (int s = 1; s < cuSeqlens.Count; s++)
        {
            long start = cuSeqlens[s - 1], length = cuSeqlens[s] - start;
            var keysT = k.narrow(1, start, length).transpose(1, 2);                          // [H, d, L]
            var column = received.narrow(1, start, length);
            long chunk = Math.Max(1, ReceivedChunkElements / (NumHeads * length));
            for (long r = 0; r < length; r += chunk)
            {
                using var step = NewDisposeScope();
                long rows = Math.Min(chunk, length - r);
                var probabilities = (matmul(q.narrow(1, start + r, rows), keysT) * scale).softmax(-1);   // [H, rows, L]
                column.add_(probabilities.sum(1));
            }
            column.div_(length);
        }
        return received.MoveToOuterDisposeScope();
    }
}
