using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using PioFvlm.Core.Generation;
using PioFvlm.Core.IO;
using PioFvlm.Core.IO.Loading;
using PioFvlm.Core.Models;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Runtime;
using PioFvlm.Core.Text;
using PioFvlm.Bench.Overlays;
using PioFvlm.Core.Vision;
using PioFvlm.Models;
using PioFvlm.Models.Configs;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Commands;

/// <summary>
/// <c>pio-fvlm generate --model DIR --image FILE --prompt TEXT [--max-new-tokens N] [--dtype Float32|BFloat16|Float16]
/// [--vision-tower DIR] [--show-kept FILE.png] [--json]</c>: greedy answer of a checkpoint of any implemented family (<see cref="VlmLoader"/>) about one image, with the statistics
/// (visual tokens, prompt length, vision / prefill / decode time, tokens per second, KV cache size). The prompt is put
/// into the checkpoint's conversation template unless it already holds <c>&lt;image&gt;</c>. <c>--show-kept</c> draws the
/// kept visual tokens over the input image, one panel per pruning stage (<see cref="KeptTokenPicture"/>; LLaVA-1.5
/// only, other families are refused before generating). Exit 0 on success, 1 with
/// a one-line error (file, key or value at fault) when the model, image or prompt cannot be used, 2 on bad arguments.
/// </summary>
public static class GenerateCommand
{
    public static readonly CommandSyntax Syntax = new("generate",
    [
        CliOption.Require("model", "DIR", "the checkpoint folder (HF layout of any implemented family, or research LLaVA)"),
        CliOption.Require("image", "FILE", "the image (PNG, JPEG, ...)"),
        CliOption.Require("prompt", "TEXT", "the question; put into the checkpoint's conversation template unless it holds <image>"),
        CliOption.Optional("max-new-tokens", "N", "most tokens to generate (default 32)"),
        CliOption.Optional("dtype", "Float32|BFloat16|Float16", "weight and compute dtype (default Float32)"),
        CliOption.Optional("vision-tower", "DIR", "a separate CLIP vision tower folder"),
        CliOption.Optional("schedule", "PRESET", "prune with PIO-FVLM on a named schedule (see 'pio-fvlm methods'); not with --pruning"),
        CliOption.Optional("pruning", "FILE", "prune as a JSON pruning config says; not with --schedule"),
        CliOption.Optional("show-kept", "FILE.png", "draw the kept visual tokens over the input image, one panel per pruning stage (LLaVA-1.5 only; LLaVA-NeXT and Qwen2.5-VL are refused)"),
        CliOption.Flag("json", "print the answer and statistics as JSON"),
    ]);

    static string Usage => Syntax.Usage;

    public static int Run(string[] args)
    {
        var a = new ArgReader(args, Syntax);
        string model = a.Value("model") ?? throw new UsageException($"--model DIR is required; usage: {Usage}");
        string imagePath = a.Value("image") ?? throw new UsageException($"--image FILE is required; usage: {Usage}");
        string prompt = a.Value("prompt") ?? throw new UsageException($"--prompt TEXT is required; usage: {Usage}");
        int maxNewTokens = ParseMaxNewTokens(a.Value("max-new-tokens"));
        var dtype = DTypeNames.ParseOption(a.Value("dtype"), "--dtype", ScalarType.Float32);
        bool json = a.Flag("json");
        string? showKept = a.Value("show-kept");
        if (a.Positional.Count > 0) throw new UsageException($"unexpected argument '{a.Positional[0]}'; usage: {Usage}");

        try
        {
            if (!Directory.Exists(model)) throw new DirectoryNotFoundException($"model folder not found: {model}");
            if (a.Value("vision-tower") is string tower && !Directory.Exists(tower))
                throw new DirectoryNotFoundException($"vision tower folder not found: {tower}");
            var image = ImageDecoder.Decode(imagePath);   // before the (slow) model load: a bad image fails fast
            if (showKept != null) KeptTokenPicture.CheckWritable(showKept);
            TorchRuntime.EnsureLoaded();
            using var vlm = VlmLoader.FromPretrained(model, new LoadOptions { DType = dtype, VisionTowerPath = a.Value("vision-tower") });
            var plan = PlanFrom(a, vlm.Profile);
            var tokens = showKept == null ? null : VisualTokenLayout.For(vlm, image);   // refuses other families before generating
            string fullPrompt = prompt.Contains(vlm.Profile.ImagePlaceholder, StringComparison.Ordinal)
                ? prompt : vlm.FormatPrompt(prompt);
            using var inputs = vlm.Prepare(fullPrompt, [image], maxNewTokens);
            var result = vlm.Generate(inputs, new GenerationOptions { MaxNewTokens = maxNewTokens }, plan);
            var stages = result.Stats.Stages;
            if (showKept != null) KeptTokenPicture.Write(showKept, image, tokens!, prompt, result);
            Console.WriteLine(json ? Json(model, imagePath, fullPrompt, dtype, plan, stages, result, showKept).ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping })
                                   : Describe(plan, stages, result, showKept));
            return 0;
        }
        catch (Exception e) when (IsUserError(e))
        {
            string message = e.Message;
            if (json) Console.WriteLine(new JsonObject { ["ok"] = false, ["error"] = message }.ToJsonString());
            else Console.Error.WriteLine($"pio-fvlm generate: {message}");
            return 1;
        }
    }

    /// <summary>
    /// <c>--schedule PRESET</c> (PIO-FVLM with a named schedule, e.g. pio-11, pio-ve-11) or <c>--pruning FILE</c> (a JSON
    /// pruning config, see <see cref="PruningConfig"/>); neither = unpruned.
    /// </summary>
    static PruningPlan PlanFrom(ArgReader args, ModelProfile profile)
    {
        string? preset = args.Value("schedule"), file = args.Value("pruning");
        if (preset != null && file != null) throw new UsageException("give --schedule or --pruning, not both");
        if (file != null) return PruningConfig.Load(file, profile);
        if (preset == null) return PruningPlan.None;
        try
        {
            return PioFvlmMethod.Create(new PioFvlmOptions { Schedule = profile.Preset(preset).ToSchedule() }, profile);
        }
        catch (KeyNotFoundException e)
        {
            throw new UsageException(e.Message);
        }
    }

    /// <summary>Failures a user can fix (paths, files, config, prompt); anything else is a bug and keeps its stack trace.</summary>
    static bool IsUserError(Exception e) => e is FileNotFoundException or DirectoryNotFoundException or ImageDecodeException
        or ConfigFormatException or CheckpointFormatException or StateLoadException or TokenizerFormatException
        or ArgumentException or NotSupportedException or FormatException or InsufficientMemoryException
        or UnauthorizedAccessException or TorchLoadException or IOException;

    static int ParseMaxNewTokens(string? value)
    {
        if (value == null) return 32;
        return int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1
            ? n : throw new UsageException($"--max-new-tokens must be a positive integer, got '{value}'");
    }

    static string Describe(PruningPlan plan, IReadOnlyList<PruningStageReport> stages, GenerationResult r, string? picture)
    {
        var s = r.Stats;
        var w = new StringWriter(CultureInfo.InvariantCulture);
        w.WriteLine(r.Text);
        w.WriteLine();
        w.WriteLine($"pruning         {plan.Name}");
        if (plan.Scope is { } scope) w.WriteLine($"pruning scope   {scope}");
        if (s.PreLlm is { } pre)
            w.WriteLine($"pre-LLM         {pre.TokensBefore} -> {pre.TokensAfter} visual tokens (reduction {pre.ReductionMs:F1} ms)");
        foreach (var st in stages)
            w.WriteLine($"  after layer {st.AfterLayer,-3} {st.VisualBefore} -> {st.VisualAfter} visual tokens " +
                        $"(score {st.ScoreMs:F1} ms, select {st.SelectMs:F1} ms){(st.FallbackUsed ? $" WARNING: {st.Warning}" : "")}");
        w.WriteLine($"visual tokens   {s.VisualTokensIn} in, {s.VisualTokensOut} out");
        w.WriteLine($"prompt length   {s.PromptLength} positions");
        w.WriteLine($"vision          {s.VisionMs:F1} ms");
        w.WriteLine($"prefill         {s.PrefillMs:F1} ms{(s.PruningMs > 0 ? $" (pruning {s.PruningMs:F1} ms)" : "")}");
        w.WriteLine($"decode          {s.DecodeMs:F1} ms, {s.TokensGenerated} tokens, {s.DecodeTokensPerSecond:F1} tok/s");
        w.WriteLine($"kv cache        {s.KvCacheBytes / 1048576.0:F2} MiB after prefill");
        if (picture != null) w.WriteLine($"kept tokens     drawn in {picture}");
        return w.ToString().TrimEnd();
    }

    static JsonObject Json(string model, string image, string prompt, ScalarType dtype, PruningPlan plan,
                           IReadOnlyList<PruningStageReport> stages, GenerationResult r, string? picture)
    {
        var s = r.Stats;
        return new JsonObject
        {
            ["ok"] = true,
            ["pruning"] = plan.Name,
            ["scope"] = plan.Scope?.ToString(),
            ["stages"] = new JsonArray(stages.Select(st => (JsonNode)new JsonObject
            {
                ["after_layer"] = st.AfterLayer, ["visual_before"] = st.VisualBefore, ["visual_after"] = st.VisualAfter,
                ["score_ms"] = st.ScoreMs, ["select_ms"] = st.SelectMs, ["fallback"] = st.FallbackUsed,
            }).ToArray()),
            ["pre_llm"] = s.PreLlm is { } pre
                ? new JsonObject { ["visual_before"] = pre.TokensBefore, ["visual_after"] = pre.TokensAfter, ["reduction_ms"] = pre.ReductionMs }
                : null,
            ["model"] = model,
            ["image"] = image,
            ["prompt"] = prompt,
            ["dtype"] = dtype.ToString(),
            ["answer"] = r.Text,
            ["show_kept"] = picture,
            ["token_ids"] = new JsonArray(r.TokenIds.Select(t => (JsonNode)t).ToArray()),
            ["stats"] = new JsonObject
            {
                ["visual_tokens_before_reduction"] = s.VisualTokensBeforeReduction,
                ["visual_tokens_in"] = s.VisualTokensIn,
                ["visual_tokens_out"] = s.VisualTokensOut,
                ["prompt_length"] = s.PromptLength,
                ["vision_ms"] = s.VisionMs,
                ["prefill_ms"] = s.PrefillMs,
                ["pruning_ms"] = s.PruningMs,
                ["decode_ms"] = s.DecodeMs,
                ["tokens"] = s.TokensGenerated,
                ["tokens_per_second"] = s.DecodeTokensPerSecond,
                ["kv_cache_mib"] = s.KvCacheBytes / 1048576.0,
            },
        };
    }
}
