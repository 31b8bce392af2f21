using PioFvlm.Models.Configs;
using PioFvlm.Models.Text.Llama;
using static TorchSharp.torch;

namespace PioFvlm.Models.Text.Qwen2;

/// <summary>
/// The Qwen2 decoder of Qwen2.5-VL (HF Qwen2_5_VLTextModel + lm_head). It is the LLaMA decoder with three differences,
/// all carried by <see cref="Core.Nn.DecoderDims"/>: biases on q/k/v but not on o_proj
/// (<see cref="Core.Nn.DecoderDims.OutputBias"/> = false), RMSNorm eps 1e-6 and θ 1e6 from the config, and M-RoPE over
/// 3 position rows with contiguous sections (<see cref="Core.Nn.DecoderDims.MropeSection"/>, [16, 24, 24] for 7B).
/// Keys under the returned module: <c>model.*</c>, <c>lm_head.weight</c>, as HF's.
/// </summary>
public static class Qwen2Decoder
{
    public static LlamaForCausalLM Create(string name, Qwen25VlTextConfig config, Device? device = null, ScalarType? dtype = null) =>
        new(name, config.ToDecoderDims(), device, dtype);
}
