using System.Text;

namespace PioFvlm.Models.Qwen25Vl;

/// <summary>
/// The Qwen2.5-VL processor's chat template (spec A4) for one user turn: the default system prompt, the images as
/// <c>&lt;|vision_start|&gt;&lt;|image_pad|&gt;&lt;|vision_end|&gt;</c> before the question, and the generation prompt.
/// Each image's single <c>&lt;|image_pad|&gt;</c> is expanded to its token count after tokenisation.
/// </summary>
public static class Qwen25VlPromptFormat
{
    public const string DefaultSystem = "You are a helpful assistant.";
    public const string ImageMarker = "<|vision_start|><|image_pad|><|vision_end|>";

    public static string Chat(string question, int imageCount = 1, string system = DefaultSystem)
    {
        var sb = new StringBuilder();
        sb.Append("<|im_start|>system\n").Append(system).Append("<|im_end|>\n");
        sb.Append("<|im_start|>user\n");
        for (int i = 0; i < imageCount; i++) sb.Append(ImageMarker);
        sb.Append(question).Append("<|im_end|>\n");
        sb.Append("<|im_start|>assistant\n");
        return sb.ToString();
    }
}
