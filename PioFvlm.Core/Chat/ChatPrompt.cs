using Microsoft.Extensions.AI;
using PioFvlm.Core.Vision;

namespace PioFvlm.Core.Chat;

/// <summary>
/// A chat request as one question and its images: what a family's template (<see cref="Models.IVisionLanguageModel.FormatPrompt"/>)
/// takes. User messages only: their texts are joined by newlines, their images (in order) go in front of the question
/// as the family's template places them. Anything else is refused with a <see cref="NotSupportedException"/> naming
/// the content, never dropped.
/// </summary>
public sealed record ChatPrompt(string Question, IReadOnlyList<RgbImage> Images)
{
    /// <param name="maxImages">Images the family accepts in one prompt (<see cref="Models.ModelProfile.MaxImages"/>).</param>
    public static ChatPrompt From(IEnumerable<ChatMessage> messages, int maxImages, string family)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var texts = new List<string>();
        var images = new List<RgbImage>();
        int index = 0;
        foreach (var message in messages)
        {
            if (message.Role != ChatRole.User)
                throw new NotSupportedException(
                    $"message {index} has role '{message.Role}': {family} formats one user question (no system prompt or earlier turns)");
            foreach (var content in message.Contents)
            {
                switch (content)
                {
                    case TextContent t:
                        if (!string.IsNullOrWhiteSpace(t.Text)) texts.Add(t.Text);
                        break;
                    case DataContent d when d.HasTopLevelMediaType("image"):
                        images.Add(ImageDecoder.Decode(d.Data.ToArray(), d.Name ?? $"message {index} image ({d.MediaType})"));
                        break;
                    case UriContent u when u.Uri.IsFile && u.HasTopLevelMediaType("image"):
                        images.Add(ImageDecoder.Decode(u.Uri.LocalPath));
                        break;
                    case UriContent u:
                        throw new NotSupportedException(
                            $"message {index}: {Describe(content)} '{u.Uri}' ({u.MediaType}) is not supported; give images as bytes (DataContent) or a file:// URI with an image media type");
                    default:
                        throw new NotSupportedException($"message {index}: {Describe(content)} is not supported by {family} (text and images only)");
                }
            }
            index++;
        }
        if (index == 0) throw new ArgumentException("the chat has no messages");
        if (images.Count > maxImages)
            throw new NotSupportedException($"the chat has {images.Count} images; {family} accepts at most {maxImages} per prompt");
        if (texts.Count == 0) throw new ArgumentException("the chat's user messages have no text (a question is needed)");
        return new ChatPrompt(string.Join("\n", texts), images);
    }

    static string Describe(AIContent content) => content switch
    {
        DataContent d => $"data content of media type '{d.MediaType}'",
        FunctionCallContent f => $"a tool call ('{f.Name}')",
        FunctionResultContent f => $"a tool result (call '{f.CallId}')",
        UriContent => "a URI",
        _ => $"content of type {content.GetType().Name}",
    };
}
