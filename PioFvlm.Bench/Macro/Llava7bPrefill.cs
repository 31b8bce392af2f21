using System.Diagnostics;
using System.Globalization;
using PioFvlm.Bench.Commands;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Runtime;
using PioFvlm.Models.Configs;
using PioFvlm.Models.Llava;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Macro;

/// <summary>
/// Hidden verb <c>measure-llava-7b-prefill [--config FILE] [--text-tokens N] [--threads N] [--force]</c> (run by
/// scripts/measure_7b_prefill.sh): builds LLaVA-1.5-7B from its config.json with random weights in bf16, in memory
/// (nothing saved or loaded), and times one image through the vision tower + projector and one prefill of 576 visual
/// plus N text tokens through the same calls <see cref="LlavaPipeline.Generate(LlavaInputs, GenerationOptions?, Core.Pruning.IPrefillPruner?, PositionPolicy)"/>
/// makes (<see cref="LlavaForConditionalGeneration.BuildSequence"/>, then <see cref="DecoderRunner.Prefill"/>).
/// Needs about 14.5 GB of free memory; refuses to start with less unless --force.
/// </summary>
public static class Llava7bPrefill
{
    const double NeededGiB = 14.5;

    public static int Run(string[] args)
    {
        var a = new ArgReader(args, flags: ["force"], valued: ["config", "text-tokens", "threads"]);
        string config = a.Value("config") ?? FindConfig()
            ?? throw new UsageException("--config FILE (llava-1.5-7b-hf config.json) not given and PioFvlm.Tests/TestData/configs/llava-1.5-7b-hf/config.json not found");
        int textTokens = int.Parse(a.Value("text-tokens") ?? "60", CultureInfo.InvariantCulture);
        int threads = int.Parse(a.Value("threads") ?? "2", CultureInfo.InvariantCulture);
        if (textTokens < 2) throw new UsageException("--text-tokens must be at least 2");

        double freeGiB = AvailableGiB();
        Console.WriteLine($"available memory {freeGiB:F1} GiB, need about {NeededGiB} GiB");
        if (freeGiB < NeededGiB && !a.Flag("force"))
        {
            Console.Error.WriteLine($"measure-llava-7b-prefill: only {freeGiB:F1} GiB available; refusing (use --force to try anyway)");
            return 1;
        }

        TorchRuntime.EnsureLoaded();
        set_num_threads(threads);
        using var noGrad = no_grad();
        var parsed = (LlavaConfig)HfConfigLoader.Load(config);
        var architecture = LlavaArchitecture.From(parsed);

        var clock = Stopwatch.StartNew();
        manual_seed(0);
        using var model = new LlavaForConditionalGeneration(architecture, CPU, ScalarType.BFloat16);   // modules' default random init
        LlavaPipeline.Freeze(model);
        double initMs = clock.Elapsed.TotalMilliseconds;
        long parameters = model.parameters().Sum(p => p.numel());
        Console.WriteLine($"built {parameters:N0} parameters in bf16 in {initMs / 1000:F1} s (RSS {Rss("VmRSS"):F2} GiB)");

        // [BOS] + 4 text ids, the image, then the rest of the text: as "USER: <image>\n..." lays it out.
        var rng = new Random(0);
        var ids = new List<int> { 1 };
        for (int i = 1; i < textTokens; i++)
        {
            if (i == 5) ids.Add(architecture.ImageTokenId);
            ids.Add(rng.Next(3, 32000));
        }
        int size = architecture.Vision.ImageSize;
        using var pixels = randn(1, 3, size, size);

        clock.Restart();
        using var features = model.EncodeImages(pixels);
        double visionMs = clock.Elapsed.TotalMilliseconds;
        using var sequence = model.BuildSequence(ids, features);
        using var cache = KvCache.For(architecture.Text, 1, sequence.Length + 1, ScalarType.BFloat16, CPU);
        using var prefill = DecoderRunner.Prefill(model.LanguageModel, sequence, cache);
        bool finite = prefill.LastLogits.isfinite().all().item<bool>();

        Console.WriteLine($"sequence        {sequence.Length} positions ({sequence.VisualTokenCount} visual + {textTokens} text)");
        Console.WriteLine($"threads         {get_num_threads()}");
        Console.WriteLine($"vision ms       {visionMs:F0} (CLIP-L/14-336, 23 of 24 layers, + projector)");
        Console.WriteLine($"prefill ms      {prefill.PrefillMs:F0}");
        Console.WriteLine($"kv cache        {cache.BytesInUse / 1048576.0:F1} MiB");
        Console.WriteLine($"logits finite   {finite}");
        Console.WriteLine($"peak RSS        {Rss("VmHWM"):F2} GiB (VmHWM)");
        return finite ? 0 : 1;
    }

    static string? FindConfig()
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir != null; dir = dir.Parent)
        {
            string path = Path.Combine(dir.FullName, "PioFvlm.Tests", "TestData", "configs", "llava-1.5-7b-hf", "config.json");
            if (File.Exists(path)) return path;
        }
        return null;
    }

    static double AvailableGiB() => ReadKib("/proc/meminfo", "MemAvailable:") / 1048576.0;

    static double Rss(string field) => ReadKib("/proc/self/status", field + ":") / 1048576.0;

    static long ReadKib(string file, string prefix)
    {
        if (!File.Exists(file)) return 0;
        var line = File.ReadLines(file).FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        if (line == null) return 0;
        return long.Parse(line[prefix.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }
}
