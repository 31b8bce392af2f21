using Microsoft.Extensions.AI;
using PioFvlm.Core.Chat;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Models;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Vision;
using PioFvlm.Models.Llava;
using PioFvlm.Tests.Models;
using PioFvlm.Tests.TestSupport;

namespace PioFvlm.Tests.Chat;

/// <summary>
/// <see cref="VlmChatClient"/> on the tiny LLaVA (49 visual tokens, 2 decoder layers): every answer is checked against
/// the model's own generate loop run directly (the path the CLI and eval use), counts against the prompt arithmetic.
/// </summary>
[NonParallelizable]
public class VlmChatClientTests
{
    const string Question = "What is in the picture?";
    TempDir _dir = null!;
    LlavaPipeline _model = null!;
    string _png = null!;

    [OneTimeSetUp]
    public void Load()
    {
        _dir = new TempDir();
        _model = LlavaTestModels.InMemory(_dir);
        _png = LlavaTestModels.WritePng(_dir.File("img.png"));
    }

    [OneTimeTearDown]
    public void Unload() { _model.Dispose(); _dir.Dispose(); }

    RgbImage Image => ImageDecoder.Decode(_png);

    ChatMessage UserWithImage(string text = Question) =>
        new(ChatRole.User, [new DataContent(File.ReadAllBytes(_png), "image/png"), new TextContent(text)]);

    GenerationResult Direct(int maxNewTokens, PruningPlan? plan = null, Action<int, string>? onToken = null)
    {
        using var inputs = _model.Prepare(_model.FormatPrompt(Question), [Image], maxNewTokens);
        return _model.Generate(inputs, new GenerationOptions { MaxNewTokens = maxNewTokens, OnToken = onToken }, plan);
    }

    [Test]
    public async Task GetResponse_SameAnswerAsGenerate_AndUsageCounts()
    {
        using var client = new VlmChatClient(_model);
        var response = await client.GetResponseAsync([UserWithImage()], new ChatOptions { MaxOutputTokens = 6 });
        var direct = Direct(6);
        Assert.That(response.Text, Is.EqualTo(direct.Text));
        Assert.That(response.Text, Is.Not.Empty);
        int promptIds;
        using (var inputs = _model.Prepare(_model.FormatPrompt(Question), [Image], 6)) promptIds = inputs.TokenIds.Count;
        var usage = response.Usage!;
        Assert.That(usage.InputTokenCount, Is.EqualTo(promptIds - 1 + LlavaTestModels.ImageTokens), "one <image> id becomes 49 positions");
        Assert.That(usage.OutputTokenCount, Is.EqualTo(direct.TokenIds.Count));
        Assert.That(usage.OutputTokenCount, Is.InRange(1, 6));
        Assert.That(usage.TotalTokenCount, Is.EqualTo(usage.InputTokenCount + usage.OutputTokenCount));
        Assert.That(usage.AdditionalCounts![ChatUsage.VisualTokensIn], Is.EqualTo(LlavaTestModels.ImageTokens));
        Assert.That(usage.AdditionalCounts[ChatUsage.VisualTokensOut], Is.EqualTo(LlavaTestModels.ImageTokens));
        Assert.That(usage.AdditionalCounts.ContainsKey(ChatUsage.PrefillMs));
        Assert.That(response.FinishReason, Is.EqualTo(direct.TokenIds.Count == 6 && !_model.EosIds.Contains(direct.TokenIds[^1])
            ? ChatFinishReason.Length : ChatFinishReason.Stop));
        Assert.That(response.AdditionalProperties![VlmChatClient.StatsKey], Is.InstanceOf<GenerationStats>());
    }

    [Test]
    public async Task Images_AsBytesOrFileUri_GiveTheSameAnswer()
    {
        using var client = new VlmChatClient(_model);
        var options = new ChatOptions { MaxOutputTokens = 4 };
        var bytes = await client.GetResponseAsync([UserWithImage()], options);
        var uri = await client.GetResponseAsync(
            [new ChatMessage(ChatRole.User, [new UriContent(new Uri(_png), "image/png"), new TextContent(Question)])], options);
        Assert.That(uri.Text, Is.EqualTo(bytes.Text));
        Assert.That(bytes.Text, Is.EqualTo(Direct(4).Text));
    }

    [Test]
    public async Task Streaming_YieldsTheDecodedPiecesInOrder_ThenUsage()
    {
        using var client = new VlmChatClient(_model);
        var pieces = new List<string>();
        var direct = Direct(8, onToken: (_, p) => pieces.Add(p));
        var expected = pieces.Where(p => p.Length > 0).ToList();
        expected[0] = expected[0].TrimStart();
        expected.RemoveAll(p => p.Length == 0);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync([UserWithImage()], new ChatOptions { MaxOutputTokens = 8 }))
            updates.Add(u);
        var texts = updates.Where(u => u.Text.Length > 0).Select(u => u.Text).ToList();
        Assert.That(texts, Is.EqualTo(expected), "one update per decoded piece, in decode order");
        Assert.That(string.Concat(texts), Is.EqualTo(direct.Text));
        var last = updates[^1];
        Assert.That(last.FinishReason, Is.Not.Null);
        var usage = last.Contents.OfType<UsageContent>().Single().Details;
        Assert.That(usage.OutputTokenCount, Is.EqualTo(direct.TokenIds.Count));
        Assert.That(updates.Take(updates.Count - 1).All(u => u.FinishReason == null && !u.Contents.OfType<UsageContent>().Any()));
    }

    [Test]
    public async Task Streaming_CancelledAfterFirstPiece_StopsBetweenDecodeSteps()
    {
        using var client = new VlmChatClient(_model);
        int maxTokens = 40;
        var full = Direct(maxTokens);
        Assume.That(full.TokenIds.Count, Is.GreaterThan(10), "the tiny model must talk long enough to be interrupted");
        using var cts = new CancellationTokenSource();
        int received = 0;
        Assert.That(async () =>
        {
            await foreach (var u in client.GetStreamingResponseAsync([UserWithImage()], new ChatOptions { MaxOutputTokens = maxTokens }, cts.Token))
            {
                if (u.Text.Length == 0) continue;
                received++;
                cts.Cancel();
            }
        }, Throws.InstanceOf<OperationCanceledException>());
        Assert.That(received, Is.GreaterThanOrEqualTo(1));
        Assert.That(received, Is.LessThan(full.TokenIds.Count), "the generation must stop early, not run to the end");
    }

    [Test]
    public void GetResponse_CancelledToken_Throws()
    {
        using var client = new VlmChatClient(_model);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.That(() => client.GetResponseAsync([UserWithImage()], null, cts.Token), Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public async Task StopSequence_CutsTheAnswer_InBothModes()
    {
        using var client = new VlmChatClient(_model);
        string full = Direct(12).Text;
        Assume.That(full.Length, Is.GreaterThan(8));
        string stop = full.Substring(full.Length / 2, 3);
        int at = full.IndexOf(stop, StringComparison.Ordinal);
        var options = new ChatOptions { MaxOutputTokens = 12, StopSequences = [stop] };
        var response = await client.GetResponseAsync([UserWithImage()], options);
        Assert.That(response.Text, Is.EqualTo(full[..at].TrimEnd()));
        Assert.That(response.FinishReason, Is.EqualTo(ChatFinishReason.Stop));
        var streamed = new List<string>();
        await foreach (var u in client.GetStreamingResponseAsync([UserWithImage()], options)) streamed.Add(u.Text);
        Assert.That(string.Concat(streamed).TrimEnd(), Is.EqualTo(full[..at].TrimEnd()));
        Assert.That(string.Concat(streamed), Does.Not.Contain(stop));
    }

    [Test]
    public async Task Pruning_PerCallOverridesPerClient()
    {
        var keep20 = PruningConfig.Parse("""{ "Stages": { "a": { "AfterLayer": 1, "Keep": 20 } } }""", "test");
        using var pruned = new VlmChatClient(_model, new VlmChatClientOptions { Pruning = keep20 });
        var a = await pruned.GetResponseAsync([UserWithImage()], new ChatOptions { MaxOutputTokens = 3 });
        Assert.That(a.Usage!.AdditionalCounts![ChatUsage.VisualTokensOut], Is.EqualTo(20));
        Assert.That(a.Text, Is.EqualTo(Direct(3, keep20).Text));
        var b = await pruned.GetResponseAsync([UserWithImage()], new ChatOptions { MaxOutputTokens = 3 }.WithPruning(PruningPlan.None));
        Assert.That(b.Usage!.AdditionalCounts![ChatUsage.VisualTokensOut], Is.EqualTo(LlavaTestModels.ImageTokens));

        using var plain = new VlmChatClient(_model);
        var keep8 = PruningConfig.Parse("""{ "Stages": { "a": { "AfterLayer": 1, "Keep": 8 } } }""", "test");
        var c = await plain.GetResponseAsync([UserWithImage()], new ChatOptions { MaxOutputTokens = 3 }.WithPruning(keep8));
        Assert.That(c.Usage!.AdditionalCounts![ChatUsage.VisualTokensOut], Is.EqualTo(8));

        var e = (await Assert.ThrowsAsync<KeyNotFoundException>(() =>
            plain.GetResponseAsync([UserWithImage()], new ChatOptions().WithPreset("no-such-preset"))))!;
        Assert.That(e.Message, Does.Contain("no-such-preset").And.Contain("pio-11"));
        Assert.Throws<KeyNotFoundException>(() => new VlmChatClient(_model, new VlmChatClientOptions { Preset = "no-such-preset" }));
    }

    static IEnumerable<TestCaseData> Unsupported()
    {
        yield return new TestCaseData(new ChatMessage(ChatRole.User, [new DataContent(new byte[] { 1, 2 }, "audio/wav"), new TextContent("hi")]), "audio/wav").SetName("Audio");
        yield return new TestCaseData(new ChatMessage(ChatRole.User, [new FunctionCallContent("c1", "lookup"), new TextContent("hi")]), "tool call ('lookup')").SetName("ToolCall");
        yield return new TestCaseData(new ChatMessage(ChatRole.User, [new UriContent(new Uri("https://example.org/a.png"), "image/png"), new TextContent("hi")]), "https://example.org/a.png").SetName("HttpImage");
        yield return new TestCaseData(new ChatMessage(ChatRole.System, "be brief"), "'system'").SetName("SystemRole");
    }

    [TestCaseSource(nameof(Unsupported))]
    public void UnsupportedContent_NotSupportedException_NamingIt(ChatMessage message, string named)
    {
        using var client = new VlmChatClient(_model);
        var e = Assert.Throws<NotSupportedException>(() => client.GetResponseAsync([message, new ChatMessage(ChatRole.User, Question)]))!;
        Assert.That(e.Message, Does.Contain(named));
    }

    [Test]
    public void MoreImagesThanTheFamilyAccepts_NotSupported()
    {
        using var client = new VlmChatClient(_model);
        var bytes = File.ReadAllBytes(_png);
        var message = new ChatMessage(ChatRole.User, [new DataContent(bytes, "image/png"), new DataContent(bytes, "image/png"), new TextContent(Question)]);
        var e = Assert.Throws<NotSupportedException>(() => client.GetResponseAsync([message]))!;
        Assert.That(e.Message, Does.Contain("2 images").And.Contain($"at most {_model.Profile.MaxImages}"));
    }

    [Test]
    public void GetService_GivesTheModelAndMetadata()
    {
        using var client = new VlmChatClient(_model);
        Assert.That(client.GetService<IVisionLanguageModel>(), Is.SameAs(_model));
        Assert.That(client.GetService<ChatClientMetadata>()!.ProviderName, Is.EqualTo("PioFvlm"));
    }
}
