using System.Text;

namespace PioFvlm.Models.Llava;

/// <summary>One message for <see cref="LlavaPromptFormat.HfLlava15Chat(IReadOnlyList{LlavaChatMessage}, bool)"/>: role "system", "user" or "assistant", its text, and how many images it carries.</summary>
public sealed record LlavaChatMessage(string Role, string Text, int ImageCount = 0);

/// <summary>A completed or open turn of a research conversation: <see cref="Assistant"/> null for the turn the model is to answer.</summary>
public sealed record LlavaTurn(string User, string? Assistant = null);

/// <summary>
/// Prompt strings for LLaVA (spec llava.md §7.3–7.4). Images are written as <see cref="ImagePlaceholder"/> followed by
/// "\n", before the text of the message that carries them; <see cref="LlavaPromptEncoder"/> turns the placeholders into ids.
/// </summary>
public static class LlavaPromptFormat
{
    public const string ImagePlaceholder = "<image>";

    /// <summary>System text of the research "vicuna_v1" template (used by all LLaVA-1.5 eval scripts).</summary>
    public const string VicunaV1System =
        "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions.";

    /// <summary>System text of the research "llava_v1" template (same as vicuna_v1 but "human").</summary>
    public const string LlavaV1System =
        "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.";

    /// <summary>Research vicuna_v1, one turn: "{system} USER: &lt;image&gt;\n{question} ASSISTANT:" (one "&lt;image&gt;\n" per image).</summary>
    public static string VicunaV1(string question, int imageCount = 1) => SeparatorStyleTwo(VicunaV1System, [new LlavaTurn(question)], imageCount);

    /// <summary>Research vicuna_v1 over several turns: images go before the first user message; a completed turn ends " {answer}&lt;/s&gt;".</summary>
    public static string VicunaV1(IReadOnlyList<LlavaTurn> turns, int imageCount = 1) => SeparatorStyleTwo(VicunaV1System, turns, imageCount);

    /// <summary>Research llava_v1 (what run_llava.py picks for "v1" model names).</summary>
    public static string LlavaV1(string question, int imageCount = 1) => SeparatorStyleTwo(LlavaV1System, [new LlavaTurn(question)], imageCount);

    /// <summary>Research mistral_instruct (llava-v1.6-mistral): "[INST] &lt;image&gt;\n{question} [/INST]"; BOS comes from the encoder.</summary>
    public static string MistralInstruct(string question, int imageCount = 1) => $"[INST] {Images(imageCount)}{question} [/INST]";

    /// <summary>
    /// HF llava-1.5-7b-hf chat template: a system message prints its text + " "; other messages print
    /// ROLE + ": ", one "&lt;image&gt;\n" per image, then text + " "; the generation prompt is "ASSISTANT:".
    /// One user turn gives "USER: &lt;image&gt;\n{q} ASSISTANT:"; with <see cref="VicunaV1System"/> as a system message
    /// it equals <see cref="VicunaV1(string, int)"/>. Completed assistant turns end with " " (no "&lt;/s&gt;").
    /// </summary>
    public static string HfLlava15Chat(IReadOnlyList<LlavaChatMessage> messages, bool addGenerationPrompt = true)
    {
        var sb = new StringBuilder();
        foreach (var m in messages)
        {
            if (m.Role != "system") sb.Append(m.Role.ToUpperInvariant()).Append(": ");
            sb.Append(Images(m.ImageCount)).Append(m.Text).Append(' ');
        }
        if (addGenerationPrompt) sb.Append("ASSISTANT:");
        return sb.ToString();
    }

    /// <summary>HF llava-1.5 chat template for one user question with images.</summary>
    public static string HfLlava15Chat(string question, int imageCount = 1) =>
        HfLlava15Chat([new LlavaChatMessage("user", question, imageCount)]);

    // Research SeparatorStyle.TWO: system + " ", then per message "ROLE: text" + (" " after a user message,
    // "</s>" after an assistant one), and "ASSISTANT:" with no trailing space for the open turn.
    static string SeparatorStyleTwo(string system, IReadOnlyList<LlavaTurn> turns, int imageCount)
    {
        if (turns.Count == 0) throw new ArgumentException("A conversation needs at least one turn", nameof(turns));
        var sb = new StringBuilder(system).Append(' ');
        for (int i = 0; i < turns.Count; i++)
        {
            string user = i == 0 ? Images(imageCount) + turns[i].User : turns[i].User;
            sb.Append("USER: ").Append(user).Append(' ');
            if (turns[i].Assistant is string answer) sb.Append("ASSISTANT: ").Append(answer).Append("</s>");
            else if (i == turns.Count - 1) sb.Append("ASSISTANT:");
            else throw new ArgumentException($"Turn {i} has no assistant answer but is not the last turn", nameof(turns));
        }
        return sb.ToString();
    }

    static string Images(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return string.Concat(Enumerable.Repeat(ImagePlaceholder + "\n", count));
    }
}
