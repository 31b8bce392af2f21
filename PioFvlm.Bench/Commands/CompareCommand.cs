using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using PioFvlm.Core.Generation;
using PioFvlm.Core.IO;
using PioFvlm.Core.IO.Loading;
using PioFvlm.Core.Models;
using PioFvlm.Core.Runtime;
using PioFvlm.Models;
using PioFvlm.Models.Configs;
using static TorchSharp.torch;

namespace PioFvlm.Bench.Commands;

/// <summary>
/// <c>pio-fvlm compare --model DIR --inputs INPUTS.safetensors --reference REFERENCE.safetensors [--greedy N]
/// [--suppress-eos] [--tolerance X] [--json]</c>: checks a checkpoint against HuggingFace transformers. It runs the model
/// on transformers-style inputs, bypassing the processor (<c>input_ids</c> [1, S] with the image tokens expanded,
/// <c>pixel_values</c> in the family's HF layout, <c>image_sizes</c> or <c>image_grid_thw</c> when present; other
/// tensors are ignored), compares the full-sequence <c>logits</c> [1, S, V] of the reference and, with
/// <c>--greedy N</c>, the first N greedy tokens against the reference's <c>gen_tokens</c> (decoded through the KV cache,
/// no EOS stop). Exit 0 within tolerance, 1 outside it, 2 on bad input (a missing tensor or a wrong shape, named).
/// </summary>
public static class CompareCommand
{
    public static readonly CommandSyntax Syntax = new("compare",
    [
        CliOption.Require("model", "DIR", "the checkpoint folder (tokenizer files not needed)"),
        CliOption.Require("inputs", "FILE", "safetensors with input_ids [1, S] (image tokens expanded), pixel_values in the family's HF layout, image_sizes / image_grid_thw when the family has them"),
        CliOption.Require("reference", "FILE", "safetensors with transformers' logits [1, S, V] (and gen_tokens [1, N] for --greedy)"),
        CliOption.Optional("greedy", "N", "also compare the first N greedy tokens, decoded through the KV cache with no EOS stop"),
        CliOption.Flag("suppress-eos", "set the EOS logits to -inf before each argmax (as the project's fixtures were generated)"),
        CliOption.Optional("tolerance", "X", "largest accepted max |logits difference| (default 1e-4)"),
        CliOption.Flag("json", "print the measured differences as JSON"),
    ]);

    static string Usage => Syntax.Usage;

    public static int Run(string[] args)
    {
        var a = new ArgReader(args, Syntax);
        string modelDir = a.Value("model") ?? throw new UsageException($"--model DIR is required; usage: {Usage}");
        string inputsPath = a.Value("inputs") ?? throw new UsageException($"--inputs FILE is required; usage: {Usage}");
        string referencePath = a.Value("reference") ?? throw new UsageException($"--reference FILE is required; usage: {Usage}");
        int greedy = a.Value("greedy") is string g
            ? int.TryParse(g, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1 ? n
                : throw new UsageException($"--greedy must be a positive integer, got '{g}'")
            : 0;
        double tolerance = a.Value("tolerance") is string t
            ? double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) && x >= 0 && double.IsFinite(x) ? x
                : throw new UsageException($"--tolerance must be a non-negative number, got '{t}'")
            : 1e-4;
        if (a.Positional.Count > 0) throw new UsageException($"unexpected argument '{a.Positional[0]}'; usage: {Usage}");
        bool json = a.Flag("json");

        Outcome outcome;
        try
        {
            outcome = Compare(modelDir, inputsPath, referencePath, greedy, a.Flag("suppress-eos"), tolerance);
        }
        catch (Exception e) when (e is BadInputException or FileNotFoundException or DirectoryNotFoundException
                                      or CheckpointFormatException or StateLoadException or ConfigFormatException
                                      or NotSupportedException or ArgumentException or TorchLoadException)
        {
            if (json) Console.WriteLine(new JsonObject { ["ok"] = false, ["error"] = e.Message }.ToJsonString());
            else Console.Error.WriteLine($"pio-fvlm compare: {e.Message}");
            return 2;
        }
        Console.WriteLine(json ? outcome.ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) : outcome.Describe());
        return outcome.Within ? 0 : 1;
    }

    /// <summary>What a comparison measured.</summary>
    public sealed record Outcome(string Family, long SequenceLength, long Vocab, double LogitsMaxAbsDiff, long WorstPosition,
                                 long WorstToken, double Tolerance, int[] Tokens, int[] ReferenceTokens, double? StepLogitsMaxAbsDiff)
    {
        public bool TokensEqual => Tokens.SequenceEqual(ReferenceTokens);
        public bool Within => LogitsMaxAbsDiff <= Tolerance && TokensEqual;

        public string Describe()
        {
            var w = new StringWriter(CultureInfo.InvariantCulture);
            w.WriteLine($"family          {Family}");
            w.WriteLine($"logits          [1, {SequenceLength}, {Vocab}] max |diff| {LogitsMaxAbsDiff:G3} at position {WorstPosition}, token {WorstToken} " +
                        $"({(LogitsMaxAbsDiff <= Tolerance ? "within" : "OUTSIDE")} tolerance {Tolerance:G3})");
            if (Tokens.Length > 0)
            {
                int first = Enumerable.Range(0, Tokens.Length).FirstOrDefault(i => Tokens[i] != ReferenceTokens[i], -1);
                w.WriteLine($"greedy tokens   {string.Join(" ", Tokens)}");
                w.WriteLine($"reference       {string.Join(" ", ReferenceTokens)}");
                w.WriteLine(first < 0 ? $"                equal ({Tokens.Length} tokens)" : $"                DIFFER from step {first}");
                if (StepLogitsMaxAbsDiff is double s) w.WriteLine($"first step      max |diff| {s:G3} against the reference's gen_step_logits[0]");
            }
            w.WriteLine(Within ? "result          match" : "result          MISMATCH");
            return w.ToString().TrimEnd();
        }

        public JsonObject ToJson() => new()
        {
            ["ok"] = true,
            ["within_tolerance"] = Within,
            ["family"] = Family,
            ["sequence_length"] = SequenceLength,
            ["vocab"] = Vocab,
            ["logits_max_abs_diff"] = LogitsMaxAbsDiff,
            ["worst_position"] = WorstPosition,
            ["worst_token"] = WorstToken,
            ["tolerance"] = Tolerance,
            ["greedy_tokens"] = new JsonArray(Tokens.Select(x => (JsonNode)x).ToArray()),
            ["reference_tokens"] = new JsonArray(ReferenceTokens.Select(x => (JsonNode)x).ToArray()),
            ["tokens_equal"] = TokensEqual,
            ["step_logits_max_abs_diff"] = StepLogitsMaxAbsDiff,
        };
    }

    /// <summary>Runs the comparison; throws <see cref="BadInputException"/> naming the tensor at fault.</summary>
    public static Outcome Compare(string modelDir, string inputsPath, string referencePath, int greedy, bool suppressEos, double tolerance)
    {
        if (!Directory.Exists(modelDir)) throw new DirectoryNotFoundException($"model folder not found: {modelDir}");
        TorchRuntime.EnsureLoaded();
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        using var inputsFile = CheckpointSource.Open(inputsPath);
        using var referenceFile = CheckpointSource.Open(referencePath);
        var ids = Require(inputsFile, inputsPath, "input_ids", 2);
        if (ids.Shape[0] != 1) throw new BadInputException($"{inputsPath}: input_ids must be [1, S] (batch 1), got {Show(ids.Shape)}");
        long length = ids.Shape[1];
        var logitsEntry = Require(referenceFile, referencePath, "logits", 3);
        if (logitsEntry.Shape[0] != 1 || logitsEntry.Shape[1] != length)
            throw new BadInputException($"{referencePath}: logits {Show(logitsEntry.Shape)} do not match input_ids {Show(ids.Shape)} of {inputsPath}; expected [1, {length}, V]");
        int[] referenceTokens = [];
        if (greedy > 0)
        {
            var gen = Require(referenceFile, referencePath, "gen_tokens", 2);
            if (gen.Shape[1] < greedy)
                throw new BadInputException($"{referencePath}: gen_tokens {Show(gen.Shape)} holds fewer than the {greedy} tokens --greedy asks for");
            referenceTokens = referenceFile.Load("gen_tokens", ScalarType.Int64)[0].narrow(0, 0, greedy).data<long>().Select(v => (int)v).ToArray();
        }

        using var model = VlmLoader.FromPretrained(modelDir, new LoadOptions { RequireTokenizer = false });
        long vocab = model.Decoder.Dims.VocabSize;
        if (logitsEntry.Shape[2] != vocab)
            throw new BadInputException($"{referencePath}: logits {Show(logitsEntry.Shape)} have vocabulary {logitsEntry.Shape[2]}, the model {vocab}");
        using var inputs = ReadInputs(inputsFile, inputsPath);

        var vision = model.BuildSequence(inputs);
        using var sequence = vision.Sequence;
        var hidden = model.Decoder.RunLayers(sequence.Embeddings, sequence.PositionIds, null, 0, model.Decoder.LayerCount);
        var logits = model.Decoder.Logits(hidden).to(ScalarType.Float32);
        var diff = (logits - referenceFile.Load("logits", ScalarType.Float32)).abs().reshape(-1);
        long worst = diff.argmax().item<long>();
        double maxDiff = diff[worst].item<float>();

        int[] tokens = [];
        double? stepDiff = null;
        if (greedy > 0)
        {
            using var cache = model.NewCache(sequence.Length + greedy);
            using var prefill = model.Prefill(sequence, cache);
            var options = new GenerationOptions
            {
                MaxNewTokens = greedy, StopAtEos = false,
                SuppressTokens = suppressEos ? model.EosIds.ToArray() : [],
            };
            if (referenceFile.Entries.TryGetValue("gen_step_logits", out var stepEntry) && stepEntry.Shape.Length == 3 && stepEntry.Shape[2] == vocab)
                stepDiff = (prefill.LastLogits - referenceFile.Load("gen_step_logits", ScalarType.Float32)[0][0]).abs().max().item<float>();
            tokens = DecoderRunner.Greedy(model.Decoder, prefill, cache, options, model.EosIds).Tokens.ToArray();
        }
        return new Outcome(model.Profile.Family, length, vocab, maxDiff, worst / vocab, worst % vocab, tolerance, tokens, referenceTokens, stepDiff);
    }

    /// <summary>The model inputs of a transformers-style file: ids, and pixel values with the family's extras.</summary>
    static VlmInputs ReadInputs(ITensorSource file, string path)
    {
        var ids = file.Load("input_ids", ScalarType.Int64)[0].data<long>().Select(v => (int)v).ToArray();
        if (!file.Entries.ContainsKey("pixel_values")) return new VlmInputs(ids, null, 0);
        var pixels = file.Load("pixel_values", ScalarType.Float32);
        var sizes = Optional(file, path, "image_sizes", columns: 2);
        var grid = Optional(file, path, "image_grid_thw", columns: 3);
        int images = (int)(grid?.shape[0] ?? pixels.shape[0]);   // Qwen's pixel rows are patches, not images
        return new VlmInputs(ids, pixels, images, sizes, grid);
    }

    /// <summary>An optional [n, columns] int64 tensor, or null when the file lacks it.</summary>
    static Tensor? Optional(ITensorSource file, string path, string name, int columns)
    {
        if (!file.Entries.ContainsKey(name)) return null;
        var entry = Require(file, path, name, 2);
        if (entry.Shape[1] != columns) throw new BadInputException($"{path}: {name} must be [n, {columns}], got {Show(entry.Shape)}");
        return file.Load(name, ScalarType.Int64);
    }

    static TensorEntry Require(ITensorSource file, string path, string name, int rank)
    {
        if (!file.Entries.TryGetValue(name, out var entry))
            throw new BadInputException($"{path}: tensor '{name}' is missing (it holds: {string.Join(", ", file.Entries.Keys.Order().Take(12))}{(file.Entries.Count > 12 ? ", ..." : "")})");
        if (entry.Shape.Length != rank)
            throw new BadInputException($"{path}: tensor '{name}' must have {rank} dimensions, got {Show(entry.Shape)}");
        return entry;
    }

    static string Show(long[] shape) => $"[{string.Join(", ", shape)}]";

    /// <summary>An inputs or reference file that cannot be compared; the message names the file and tensor.</summary>
    public sealed class BadInputException(string message) : Exception(message);
}
