namespace PioFvlm.Models.Configs;

/// <summary>The model families PioFvlm runs; each has its own config record.</summary>
public enum VlmFamily
{
    Llava,
    LlavaNext,
    Qwen25Vl,
}
