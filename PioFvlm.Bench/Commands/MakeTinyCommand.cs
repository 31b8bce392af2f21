using System.Globalization;
using PioFvlm.Core.Runtime;
using PioFvlm.Models.Llava;
using PioFvlm.Models.LlavaNext;
using PioFvlm.Models.Qwen25Vl;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Commands;

/// <summary>
/// <c>pio-fvlm make-tiny --out DIR [--layout hf|modern|research] [--seed N] [--dtype F16|F32] [--shards N]
/// [--tokenizer DIR]</c>: writes a random tiny LLaVA-1.5 model folder (<see cref="TinyLlava"/>). The LLaMA-2 tokenizer
/// is copied from <c>--tokenizer</c>, else from the repository's test data or bundled tiny model when found above the
/// working directory. The research layout also writes the CLIP folder next to DIR, as DIR-clip. <c>--family qwen2.5-vl</c>
/// writes <see cref="TinyQwen25Vl"/> with its own tiny byte-level tokenizer (no <c>--tokenizer</c>).
/// </summary>
public static class MakeTinyCommand
{
    public static readonly CommandSyntax Syntax = new("make-tiny",
    [
        CliOption.Require("out", "DIR", "the model folder to write"),
        CliOption.Optional("family", "llava|llava-next|llava-next-mistral|qwen2.5-vl", "model family (default llava = LLaVA-1.5; the others are hf layout only: NeXT with a Vicuna or Mistral text model, Qwen2.5-VL with its own tiny tokenizer)"),
        CliOption.Optional("layout", "hf|modern|research", "checkpoint layout (default hf; research also writes DIR-clip)"),
        CliOption.Optional("seed", "N", "weight seed (default 0)"),
        CliOption.Optional("dtype", "F16|F32", "weight dtype (default F16)"),
        CliOption.Optional("shards", "N", "safetensors shards, hf and modern layouts only (default 1)"),
        CliOption.Optional("tokenizer", "DIR", "folder with a LLaMA-2 tokenizer.json (default: found in the repository)"),
    ]);

    static string Usage => Syntax.Usage;

    const string TinyFamilyQwen = "qwen2.5-vl";

    /// <summary>Where a LLaMA-2 tokenizer.json is found, relative to the repository root, in order.</summary>
    static readonly string[] TokenizerCandidates = ["PioFvlm.Tests/TestData/tokenizers/llama2", "configs/models/tiny-llava"];

    public static int Run(string[] args)
    {
        var a = new ArgReader(args, Syntax);
        string output = a.Value("out") ?? throw new UsageException($"--out DIR is required; usage: {Usage}");
        var layout = a.Value("layout") switch
        {
            null or "hf" => TinyLlavaLayout.Hf,
            "modern" => TinyLlavaLayout.Modern,
            "research" => TinyLlavaLayout.Research,
            var v => throw new UsageException($"--layout must be hf, modern or research, got '{v}'"),
        };
        int seed = PositiveOrZero(a.Value("seed"), "--seed", 0);
        int shards = PositiveOrZero(a.Value("shards"), "--shards", 1);
        if (shards < 1) throw new UsageException("--shards must be at least 1");
        if (shards > 1 && layout == TinyLlavaLayout.Research) throw new UsageException("--shards applies to the hf and modern layouts only");
        var dtype = a.Value("dtype") switch
        {
            null or "F16" or "Float16" => ScalarType.Float16,
            "F32" or "Float32" => ScalarType.Float32,
            "BF16" or "BFloat16" => ScalarType.BFloat16,
            var v => throw new UsageException($"--dtype must be F16 or F32, got '{v}'"),
        };
        if (a.Value("family") == TinyFamilyQwen)
        {
            if (layout != TinyLlavaLayout.Hf || shards != 1 || a.Value("tokenizer") != null)
                throw new UsageException("--family qwen2.5-vl writes the hf layout in one file with its own tokenizer (no --layout, --shards, --tokenizer)");
            TorchRuntime.EnsureLoaded();
            TinyQwen25Vl.Write(output, seed, dtype);
            Console.WriteLine($"wrote tiny Qwen2.5-VL (seed {seed}, {dtype}) to {output}");
            return 0;
        }
        string? tokenizer = a.Value("tokenizer") ?? FindTokenizer();
        if (tokenizer == null)
        {
            Console.Error.WriteLine($"pio-fvlm make-tiny: no LLaMA-2 tokenizer.json found (looked for {string.Join(", ", TokenizerCandidates)} above {Environment.CurrentDirectory}); pass --tokenizer DIR");
            return 1;
        }
        if (!File.Exists(Path.Combine(tokenizer, "tokenizer.json")))
        {
            Console.Error.WriteLine($"pio-fvlm make-tiny: {Path.Combine(tokenizer, "tokenizer.json")} not found");
            return 1;
        }

        TorchRuntime.EnsureLoaded();
        if (a.Value("family") is "llava-next" or "llava-next-mistral")
        {
            if (layout != TinyLlavaLayout.Hf || shards != 1) throw new UsageException("--family llava-next* writes the hf layout in one file only");
            var text = a.Value("family") == "llava-next" ? TinyNextText.Vicuna : TinyNextText.Mistral;
            TinyLlavaNext.Write(output, text, seed, dtype, tokenizer);
            Console.WriteLine($"wrote tiny LLaVA-NeXT ({text} text model, seed {seed}, {dtype}) to {output}");
            return 0;
        }
        if (a.Value("family") is not (null or "llava"))
            throw new UsageException($"--family must be llava, llava-next, llava-next-mistral or qwen2.5-vl, got '{a.Value("family")}'");
        var folders = TinyLlava.Write(output, new TinyLlavaOptions
        {
            Layout = layout, Seed = seed, DType = dtype, Shards = shards, TokenizerDirectory = tokenizer,
        });
        long bytes = Directory.EnumerateFiles(folders.ModelDirectory).Sum(f => new FileInfo(f).Length);
        Console.WriteLine($"wrote tiny LLaVA-1.5 ({layout}, seed {seed}, {dtype}) to {folders.ModelDirectory}: {bytes / 1048576.0:F2} MiB");
        if (folders.VisionTowerDirectory != null)
            Console.WriteLine($"wrote its CLIP vision tower to {folders.VisionTowerDirectory} (pass it as --vision-tower)");
        return 0;
    }

    static int PositiveOrZero(string? value, string name, int fallback)
    {
        if (value == null) return fallback;
        return int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n)
            ? n : throw new UsageException($"{name} must be a non-negative integer, got '{value}'");
    }

    static string? FindTokenizer()
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir != null; dir = dir.Parent)
            foreach (var candidate in TokenizerCandidates)
            {
                string path = Path.Combine(dir.FullName, candidate);
                if (File.Exists(Path.Combine(path, "tokenizer.json"))) return path;
            }
        return null;
    }
}
