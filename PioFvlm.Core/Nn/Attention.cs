using PioFvlm.Core.Runtime;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PioFvlm.Core.Nn;

/// <summary>
/// Causal self-attention of LLaMA/Mistral: q/k/v/o projections, RoPE on q and k, grouped-query attention (query
/// head h reads kv head h / groupSize), causal masking aligned to the END of the keys so that queries that
/// continue a cache see every cached position. Keys go into the cache after RoPE.
/// </summary>
public sealed class Attention : nn.Module<AttentionInput, Tensor>
{
    [ComponentName(Name = "q_proj")] private readonly Linear _qProj;
    [ComponentName(Name = "k_proj")] private readonly Linear _kProj;
    [ComponentName(Name = "v_proj")] private readonly Linear _vProj;
    [ComponentName(Name = "o_proj")] private readonly Linear _oProj;

    public int LayerIndex { get; }
    public int NumHeads { get; }
    public int NumKvHeads { get; }
    public int HeadDim { get; }

    /// <summary>Sdpa by default; Eager for oracles.</summary>
    public AttentionKernel Kernel { get; set; } = AttentionKernel.Sdpa;

    public Linear QProj => _qProj;
    public Linear KProj => _kProj;
    public Linear VProj => _vProj;
    public Linear OProj => _oProj;

    /// <param name="layerIndex">The cache slot this attention reads and writes.</param>
    public Attention(string name, DecoderDims dims, int layerIndex, Device? device = null, ScalarType? dtype = null) : base(name)
    {
        dims.Validate();
        LayerIndex = layerIndex;
        NumHeads = dims.NumHeads;
        NumKvHeads = dims.NumKvHeads;
        HeadDim = dims.HeadDim;
        _qProj = nn.Linear(dims.HiddenSize, (long)dims.NumHeads * dims.HeadDim, hasBias: dims.AttentionBias, device: device, dtype: dtype);
        _kProj = nn.Linear(dims.HiddenSize, (long)dims.NumKvHeads * dims.HeadDim, hasBias: dims.AttentionBias, device: device, dtype: dtype);
        _vProj = nn.Linear(dims.HiddenSize, (long)dims.NumKvHeads * dims.HeadDim, hasBias: dims.AttentionBias, device: device, dtype: dtype);
        _oProj = nn.Linear((long)dims.NumHeads * dims.HeadDim, dims.HiddenSize, hasBias: dims.HasOutputBias, device: device, dtype: dtype);
        RegisterComponents();
    }

    public override Tensor forward(AttentionInput input)
    {
        using var _ = NewDisposeScope();
        var x = input.Hidden;
        if (x.dim() != 3)
            throw new ArgumentException($"Attention (layer {LayerIndex}): hidden must be [B, S, hidden], got [{string.Join(", ", x.shape)}]");
        long b = x.shape[0], s = x.shape[1];
        if (input.Rope.Length != s)
            throw new ArgumentException($"Attention (layer {LayerIndex}): RoPE tables cover {input.Rope.Length} positions, hidden has {s}");

        var q = _qProj.forward(x).view(b, s, NumHeads, HeadDim).transpose(1, 2);
        var k = _kProj.forward(x).view(b, s, NumKvHeads, HeadDim).transpose(1, 2);
        var v = _vProj.forward(x).view(b, s, NumKvHeads, HeadDim).transpose(1, 2);
        q = RotaryEmbedding.Apply(q, input.Rope);
        k = RotaryEmbedding.Apply(k, input.Rope);

        if (input.Cache is { } cache)
        {
            cache.Append(LayerIndex, k, v);
            k = cache.Keys(LayerIndex);
            v = cache.Values(LayerIndex);
        }

        var attn = Attend(q, k, v, Kernel);                                   // [B, H, S, D]
        var merged = attn.transpose(1, 2).reshape(b, s, (long)NumHeads * HeadDim);
        return _oProj.forward(merged).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Causal attention of q [B, H, L, D] over k, v [B, Hkv, T, D] with T ≥ L, where the L queries are the LAST L of
    /// the T positions (query i sees keys 0 .. T − L + i). Hkv must divide H; kv heads are repeat-interleaved.
    /// Scale 1/√D.
    /// </summary>
    public static Tensor Attend(Tensor query, Tensor key, Tensor value, AttentionKernel kernel)
    {
        if (query.dim() != 4 || key.dim() != 4 || value.dim() != 4)
            throw new ArgumentException($"Attention.Attend: q, k, v must be rank 4, got [{string.Join(", ", query.shape)}], [{string.Join(", ", key.shape)}], [{string.Join(", ", value.shape)}]");
        long heads = query.shape[1], kvHeads = key.shape[1], l = query.shape[2], t = key.shape[2];
        if (heads % kvHeads != 0 || value.shape[1] != kvHeads)
            throw new ArgumentException($"Attention.Attend: {heads} query heads cannot share {kvHeads} key heads / {value.shape[1]} value heads");
        if (t < l)
            throw new ArgumentException($"Attention.Attend: {l} queries but only {t} keys; queries must be the last positions of the keys");
        using var _ = NewDisposeScope();
        if (l == 1 && kernel == AttentionKernel.Sdpa && OneRowGemv.InScope && query.device_type == DeviceType.CPU && kvHeads == heads)
        {
            // A decode step without GQA: libtorch's CPU SDPA is slow for one query row per head (see OneQueryAttention).
            // With GQA the folded SDPA below is faster (each kv head's query group is one [groups, D] block): measured
            // at the Qwen2.5-VL-7B shape (28/4 heads, 453 cached positions) 7.3 ms per step against the kernel's 22.6 ms.
            if (OneQueryAttention.Applies(query, key, value))
                return OneQueryAttention.Attend(query, key, value).MoveToOuterDisposeScope();
            if (query.dtype is ScalarType.BFloat16 or ScalarType.Float16)
                return OneQueryInFp32(query, key, value).MoveToOuterDisposeScope();
        }
        if (kvHeads != heads && l == 1 && kernel == AttentionKernel.Sdpa)
        {
            // One query sees every key, so no mask: fold each kv head's query group into the query axis
            // ([B, Hkv, groups, D]) instead of copying the whole cache groups times.
            long b = query.shape[0], d = query.shape[3], groups = heads / kvHeads;
            var folded = nn.functional.scaled_dot_product_attention(query.reshape(b, kvHeads, groups, d), key, value);
            return folded.reshape(b, heads, 1, value.shape[3]).MoveToOuterDisposeScope();
        }
        if (kvHeads != heads)
        {
            long groups = heads / kvHeads;
            key = key.repeat_interleave(groups, dim: 1);
            value = value.repeat_interleave(groups, dim: 1);
        }
        Tensor result = kernel switch
        {
            AttentionKernel.Sdpa => SdpaCausal(query, key, value, l, t),
            AttentionKernel.Eager => EagerCausal(query, key, value, l, t),
            _ => throw new ArgumentOutOfRangeException(nameof(kernel), kernel, "unknown attention kernel"),
        };
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One query row over every key in a decode step (inside a <see cref="OneRowGemv"/> scope, no GQA) on the CPU in
    /// bf16/fp16 where <see cref="OneQueryAttention"/> does not apply (fp16, or D not a multiple of 32): q·Kᵀ, softmax
    /// and ·V as fp32 matrix products on fp32 copies of the cache (no mask: the one query sees every key). Faster than libtorch's CPU SDPA for one query (35-72 ms against 77 ms per
    /// step at the 7B shape over 636 cached positions), with less rounding (one rounding to the model dtype at the end).
    /// </summary>
    static Tensor OneQueryInFp32(Tensor query, Tensor key, Tensor value)
    {
        double scale = 1.0 / Math.Sqrt(query.shape[3]);
        var scores = matmul(query.to_type(ScalarType.Float32), key.to_type(ScalarType.Float32).transpose(-2, -1)).mul_(scale);
        return matmul(scores.softmax(-1), value.to_type(ScalarType.Float32)).to_type(query.dtype);   // [B, H, 1, Dv]
    }

    /// <summary>Bool [L, T] mask, true where query i may read key j: j ≤ T − L + i (bottom-right aligned).</summary>
    public static Tensor CausalMask(long queries, long keys, Device? device = null)
    {
        using var _ = NewDisposeScope();
        var j = arange(keys, dtype: ScalarType.Int64, device: device).unsqueeze(0);
        var i = arange(queries, dtype: ScalarType.Int64, device: device).unsqueeze(1);
        return (j <= i + (keys - queries)).MoveToOuterDisposeScope();
    }

    private static Tensor SdpaCausal(Tensor q, Tensor k, Tensor v, long l, long t)
    {
        // libtorch's causal flag is a top-left triangle: right only when L == T. One query sees every key.
        if (l == t) return nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true);
        if (l == 1) return nn.functional.scaled_dot_product_attention(q, k, v);
        return nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: CausalMask(l, t, q.device));
    }

    private static Tensor EagerCausal(Tensor q, Tensor k, Tensor v, long l, long t)
    {
        var softmaxType = q.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var scores = matmul(q, k.transpose(-2, -1)) * (1.0 / Math.Sqrt(q.shape[^1]));
        scores = scores.masked_fill(CausalMask(l, t, q.device).logical_not(), double.NegativeInfinity);
        var probs = scores.softmax(-1, dtype: softmaxType).to_type(q.dtype);
        return matmul(probs, v);
    }
}
