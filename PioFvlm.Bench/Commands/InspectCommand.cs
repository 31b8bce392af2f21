using System.Text.Json;
using System.Text.Json.Nodes;
using PioFvlm.Core.IO;
using PioFvlm.Core.IO.Safetensors;
using PioFvlm.Core.Runtime;
using PioFvlm.Models.Configs;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Commands;

/// <summary>
/// <c>pio-fvlm inspect PATH [--verify] [--json]</c>: tensor count, bytes, dtypes and config summary of a checkpoint
/// (a file, a folder or a sharded index). <c>--verify</c> reads every tensor. Exit 0 when valid; 1 with the specific
/// error otherwise (no stack trace).
/// </summary>
public static class InspectCommand
{
    public static readonly CommandSyntax Syntax = new("inspect",
    [
        CliOption.Flag("verify", "read every tensor (checks data, not only headers)"),
        CliOption.Flag("json", "print the report as JSON"),
    ])
    {
        Arguments = [new("PATH", "a checkpoint file, folder or sharded index")],
    };

    public static int Run(string[] args)
    {
        var a = new ArgReader(args, Syntax);
        string path = a.RequirePositional(0, "PATH (a checkpoint file, folder or index)");
        bool json = a.Flag("json");
        try
        {
            var report = Inspect(path, a.Flag("verify"));
            Console.WriteLine(json ? report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) : Describe(report));
            return 0;
        }
        catch (Exception e) when (e is CheckpointFormatException or ConfigFormatException or FileNotFoundException
                                       or NotSupportedException or IOException or UnauthorizedAccessException or TorchLoadException)
        {
            if (json) Console.WriteLine(new JsonObject { ["path"] = path, ["valid"] = false, ["error"] = e.Message }.ToJsonString());
            else Console.Error.WriteLine($"invalid: {e.Message}");
            return 1;
        }
    }

    /// <summary>The facts as one JSON object (also the source of the text form).</summary>
    public static JsonObject Inspect(string path, bool verify)
    {
        TorchRuntime.EnsureLoaded();
        using var source = CheckpointSource.Open(path);
        var entries = source.Entries.Values.ToList();
        long totalBytes = entries.Sum(e => e.ElementCount * ElementSize(e.DType));
        var dtypes = new JsonObject();
        foreach (var g in entries.GroupBy(e => e.DType).OrderByDescending(g => g.Count()))
            dtypes[g.Key.ToString()] = g.Count();
        var files = entries.Select(e => e.File).Distinct().Order(StringComparer.Ordinal).ToList();
        var report = new JsonObject
        {
            ["path"] = path,
            ["valid"] = true,
            ["files"] = new JsonArray(files.Select(f => (JsonNode)Path.GetFileName(f)!).ToArray()),
            ["tensors"] = entries.Count,
            ["parameters"] = entries.Sum(e => e.ElementCount),
            ["bytes"] = totalBytes,
            ["dtypes"] = dtypes,
        };
        string? configPath = FindConfig(path);
        if (configPath != null) report["config"] = SummarizeConfig(configPath);
        if (verify) report["verified"] = Verify(source, entries);
        return report;
    }

    static long ElementSize(ScalarType dtype) =>
        SafetensorsDType.TryGetName(dtype, out _, out int size) ? size : throw new NotSupportedException($"dtype {dtype}");

    static string? FindConfig(string path)
    {
        string dir = Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path))!;
        string file = Path.Combine(dir, "config.json");
        return File.Exists(file) ? file : null;
    }

    static JsonObject SummarizeConfig(string configPath)
    {
        var config = HfConfigLoader.Load(configPath);
        var summary = new JsonObject
        {
            ["family"] = config.Family.ToString(),
            ["model_type"] = config.ModelType,
            ["architectures"] = new JsonArray(config.Architectures.Select(a => (JsonNode)a!).ToArray()),
        };
        if (config is LlavaFamilyConfig llava)
        {
            summary["layout"] = llava.Layout.ToString();
            summary["text"] = $"{llava.Text.ModelType}: {llava.Text.NumHiddenLayers} layers, hidden {llava.Text.HiddenSize}, " +
                              $"{llava.Text.NumAttentionHeads} heads ({llava.Text.NumKeyValueHeads} kv), vocab {llava.Text.VocabSize}";
            summary["vision"] = llava.Vision is { } v
                ? $"CLIP: {v.NumHiddenLayers} layers, hidden {v.HiddenSize}, image {v.ImageSize}, patch {v.PatchSize} ({v.NumPatches} patches)"
                : $"separate tower '{llava.VisionTowerName}'";
            summary["image_token_id"] = llava.ImageTokenId;
        }
        else if (config is Qwen25VlConfig qwen)
        {
            summary["text"] = $"qwen2: {qwen.Text.NumHiddenLayers} layers, hidden {qwen.Text.HiddenSize}, vocab {qwen.Text.VocabSize}";
            summary["vision"] = $"ViT: depth {qwen.Vision.Depth}, hidden {qwen.Vision.HiddenSize}";
        }
        var size = ModelSizeEstimator.Estimate(config);
        summary["expected_parameters"] = size.Total;
        summary["vision_tower_in_checkpoint"] = size.VisionTowerKnown;
        return summary;
    }

    /// <summary>Reads every tensor (one at a time, disposed at once) and counts non-finite values.</summary>
    static JsonObject Verify(ITensorSource source, List<TensorEntry> entries)
    {
        long nonFinite = 0;
        var withNonFinite = new JsonArray();
        int done = 0;
        using var progress = ProgressReporter.Start("verify", entries.Count, quietWhenRedirected: true);
        foreach (var e in entries.OrderBy(e => e.File, StringComparer.Ordinal).ThenBy(e => e.Name, StringComparer.Ordinal))
        {
            using var scope = NewDisposeScope();
            var t = source.Load(e.Name);
            if (t.is_floating_point())
            {
                long bad = t.isfinite().logical_not().sum().item<long>();
                if (bad > 0) { nonFinite += bad; withNonFinite.Add(e.Name); }
            }
            progress.Report(++done);
        }
        return new JsonObject { ["tensors_read"] = done, ["non_finite_values"] = nonFinite, ["tensors_with_non_finite"] = withNonFinite };
    }

    static string Describe(JsonObject r)
    {
        var w = new StringWriter();
        w.WriteLine($"checkpoint  {r["path"]}");
        w.WriteLine($"files       {string.Join(", ", r["files"]!.AsArray().Select(f => f!.ToString()))}");
        w.WriteLine($"tensors     {r["tensors"]}");
        w.WriteLine($"parameters  {(long)r["parameters"]!:N0}");
        w.WriteLine($"bytes       {(long)r["bytes"]!:N0} ({(long)r["bytes"]! / 1048576.0:F1} MiB)");
        w.WriteLine($"dtypes      {string.Join(", ", r["dtypes"]!.AsObject().Select(kv => $"{kv.Key} x{kv.Value}"))}");
        if (r["config"] is JsonObject c)
            foreach (var (k, v) in c) w.WriteLine($"config.{k,-27}{v?.ToJsonString().Trim('"')}");
        if (r["verified"] is JsonObject v2)
            w.WriteLine($"verified    {v2["tensors_read"]} tensors read, {v2["non_finite_values"]} non-finite values");
        return w.ToString().TrimEnd();
    }
}
