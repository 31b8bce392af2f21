using PioFvlm.Core.Pruning;
using PioFvlm.Models.Text.Llama;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>
/// The probe written a third way, from the state dict in plain tensor ops: RMSNorm, per-head attention with an explicit
/// causal softmax, rotate-half RoPE from HF's fp32 inv_freq, SwiGLU, final norm, head, CE against the argmax. No
/// module forward, no SDPA, no project code but the state dict.
/// </summary>
internal static class SaliencyReference
{
    /// <summary>G = ∂L/∂X [S, hidden] in <paramref name="dtype"/>; the loss over the given window.</summary>
    /// <param name="headKey">"lm_head.weight" or "model.embed_tokens.weight".</param>
    public static (Tensor Gradient, double Loss) Gradient(LlamaForCausalLM lm, PrefillState state, int probeLayer,
                                                          long[] window, string headKey, ScalarType dtype)
    {
        var dims = lm.Dims;
        var sd = lm.state_dict();
        Tensor W(string key) => sd[key].detach().to_type(dtype);
        string p = $"model.layers.{probeLayer}.";
        long s = state.Length, d = dims.HeadDim;
        int heads = dims.NumHeads, kvHeads = dims.NumKvHeads;

        using var grad = enable_grad();
        var x = state.Hidden[0].detach().to_type(dtype).clone().requires_grad_(true);           // [S, hidden]
        Tensor Rms(Tensor t, Tensor w)
        {
            var wide = t.dtype == ScalarType.Float64 ? t : t.to_type(ScalarType.Float32);
            var normed = wide * (wide.pow(2).mean([-1], keepdim: true) + dims.RmsNormEps).rsqrt();
            return w * normed.to_type(t.dtype);
        }

        // RoPE: HF inv_freq in fp32, angles in fp32 (fp64 for fp64 activations), then cast.
        var invFreq = full([d / 2], (float)dims.RopeTheta, dtype: ScalarType.Float32)
            .pow(arange(0, d, 2, dtype: ScalarType.Int64).to_type(ScalarType.Float32) / (float)d).reciprocal();
        var angleType = dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var angles = state.PositionIds[0].to_type(angleType).unsqueeze(1) * invFreq.to_type(angleType).unsqueeze(0);   // [S, D/2]
        var cos = angles.cos().to_type(dtype);
        var sin = angles.sin().to_type(dtype);
        Tensor Rotate(Tensor t)   // t [S, D]
        {
            var t1 = t.narrow(1, 0, d / 2);
            var t2 = t.narrow(1, d / 2, d / 2);
            return cat([t1 * cos - t2 * sin, t2 * cos + t1 * sin], 1);
        }

        var n = Rms(x, W(p + "input_layernorm.weight"));
        var q = matmul(n, W(p + "self_attn.q_proj.weight").t());
        var k = matmul(n, W(p + "self_attn.k_proj.weight").t());
        var v = matmul(n, W(p + "self_attn.v_proj.weight").t());
        var future = ones([s, s], dtype: ScalarType.Bool).triu(1);
        var outputs = new List<Tensor>();
        for (int h = 0; h < heads; h++)
        {
            int kvh = h / (heads / kvHeads);
            var qh = Rotate(q.narrow(1, h * d, d));
            var kh = Rotate(k.narrow(1, kvh * d, d));
            var vh = v.narrow(1, kvh * d, d);
            var scores = matmul(qh, kh.t()) / Math.Sqrt(d);
            scores = scores.masked_fill(future, double.NegativeInfinity);
            var probs = scores.to_type(angleType).softmax(-1).to_type(dtype);
            outputs.Add(matmul(probs, vh));
        }
        var h1 = x + matmul(cat(outputs, 1), W(p + "self_attn.o_proj.weight").t());
        var m = Rms(h1, W(p + "post_attention_layernorm.weight"));
        var gate = matmul(m, W(p + "mlp.gate_proj.weight").t());
        var y = h1 + matmul(gate * gate.sigmoid() * matmul(m, W(p + "mlp.up_proj.weight").t()), W(p + "mlp.down_proj.weight").t());
        var z = matmul(Rms(y, W("model.norm.weight")), W(headKey).t());
        var zw = z.index_select(0, tensor(window)).to_type(angleType);
        var labels = zw.argmax(1).detach();
        var loss = (zw.logsumexp(1) - zw.gather(1, labels.unsqueeze(1)).squeeze(1)).mean();
        var g = autograd.grad([loss], [x])[0];
        return (g.detach(), loss.to_type(ScalarType.Float64).item<double>());
    }

    /// <summary>‖G_i‖₂ over the hidden dim at the given rows, float32.</summary>
    public static Tensor Norms(Tensor gradient, long[] rows) =>
        gradient.index_select(0, tensor(rows)).to_type(ScalarType.Float64).pow(2).sum(1).sqrt().to_type(ScalarType.Float32);
}
