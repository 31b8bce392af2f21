using PioFvlm.Bench.Demo;
using PioFvlm.Core.IO;
using PioFvlm.Models;
using PioFvlm.Models.Llava;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Demo;

/// <summary>
/// The training path against the inference path, and resumption: the batched, right-padded training forward gives the
/// logits the pipeline's own prefill gives each question alone; an interrupted run resumed from its checkpoint ends
/// with the weights of an uninterrupted one; the saved folder loads as an ordinary checkpoint.
/// </summary>
[NonParallelizable]
public class DemoTrainingTests
{
    // One thread: training results are then bit-for-bit repeatable, so runs can be compared weight by weight.
    [SetUp]
    public void OneThread() => set_num_threads(1);

    [TearDown]
    public void AllThreads() => set_num_threads(Environment.ProcessorCount);

    internal static readonly DemoModelConfig Tiny = new()
    {
        ImageSize = 64, PatchSize = 16, VisionHidden = 16, VisionIntermediate = 32, VisionLayers = 2, VisionHeads = 2,
        TextHidden = 32, TextIntermediate = 64, TextLayers = 3, TextHeads = 2, MaxPositions = 128,
    };

    [Test]
    public void BatchedTrainingForwardEqualsThePipelinesPrefillPerQuestion()
    {
        using var dir = new TempDir();
        using var pipeline = DemoTrainer.CreateModel(dir.Path, Tiny, seed: 5);
        LlavaPipeline.Freeze(VlmFamilies.Llava15Modules(pipeline));
        var generator = new ShapesGenerator(new ShapesGeneratorOptions { ImageSize = Tiny.ImageSize });
        var samples = generator.Samples(seed: 9, count: 4).ToList();     // four types: four question lengths
        var builder = new DemoBatchBuilder(pipeline, generator);
        // Follow-up turns come after the first answer, so (causal attention) they must not change its logits.
        using var batch = builder.Build(samples, samples.Select((s, i) => generator.FollowUps(9, s, i)).ToList());
        using var _ = no_grad();
        using var logits = builder.TargetLogits(batch);
        for (int b = 0; b < samples.Count; b++)
        {
            var image = ShapesRenderer.Render(samples[b].Scene);
            using var inputs = pipeline.Prepare(pipeline.FormatPrompt(DemoBatchBuilder.PromptText(samples[b].Question)), [image]);
            var (sequence, _) = pipeline.BuildSequence(inputs);
            using var cache = pipeline.NewCache(sequence.Embeddings.shape[1]);
            using var prefill = pipeline.Prefill(sequence, cache);
            TensorAssert.Close(logits[batch.FirstTarget[b]], prefill.LastLogits.reshape(-1), 1e-5, 1e-4, $"sample {b} ({samples[b].Question.Type})");
            sequence.Embeddings.Dispose();
            sequence.PositionIds.Dispose();
        }
    }

    [Test]
    public void TargetsSitRightAfterTheirPredictingPosition()
    {
        using var fixture = new EightSampleBatch();
        var (pipeline, samples, followUps, batch) = (fixture.Pipeline, fixture.Samples, fixture.FollowUps, fixture.Batch);
        var suffix = batch.SuffixIds.data<long>().ToArray();
        long width = batch.SuffixIds.shape[1];
        int visual = VlmFamilies.Llava15Modules(pipeline).Architecture.TokensPerImage;
        for (int t = 0; t < batch.TargetIds.Length; t++)
        {
            // The target is the id one position after the predicting logit, in the concatenated sequence.
            long row = batch.TargetRows[t], next = batch.TargetPositions[t] + 1 - batch.PrefixIds.Length - visual;
            Assert.That(suffix[row * width + next], Is.EqualTo(batch.TargetIds[t]), $"target {t}");
        }
        var eos = pipeline.Tokenizer.EosId;
        Assert.That(batch.TargetIds.Count(id => id == eos), Is.EqualTo(samples.Count + followUps.Sum(f => f.Count)), "each answer ends with EOS");
        for (int b = 0; b < samples.Count; b++)
        {
            var firstTurn = batch.TargetIds.Skip(batch.FirstTarget[b]).Take(batch.FirstTurnTargets[b]).Select(i => (int)i).ToList();
            Assert.That(pipeline.Tokenizer.Decode(firstTurn), Is.EqualTo(samples[b].Question.Answer), $"row {b}: first-turn targets");
        }
    }

    [Test]
    public void AnInterruptedRunResumesToTheSameWeights()
    {
        using var dir = new TempDir();
        var options = new DemoTrainingOptions
        {
            OutputDirectory = Path.Combine(dir.Path, "straight"), Model = Tiny, Steps = 4, BatchSize = 4, WarmupSteps = 2,
            ValidationCount = 8, EvaluateEvery = 2, CheckpointEvery = 2,
        };
        new DemoTrainer(options).Train(TextWriter.Null);
        Assert.That(File.Exists(Path.Combine(options.OutputDirectory, TrainingCurves.AccuracyFile)), "training curves plotted");
        var resumed = options with { OutputDirectory = Path.Combine(dir.Path, "resumed") };
        new DemoTrainer(resumed with { InterruptAfterStep = 2 }).Train(TextWriter.Null);
        Assert.That(File.Exists(Path.Combine(resumed.OutputDirectory, "checkpoint", "step.json")), "the interrupted run left its checkpoint");
        Assert.That(File.Exists(Path.Combine(resumed.OutputDirectory, "model.safetensors")), Is.False, "no final model from an interrupted run");
        var log = new StringWriter();
        new DemoTrainer(resumed).Train(log);
        Assert.That(log.ToString(), Does.Contain("resuming from the checkpoint at step 2"));

        AssertSameWeights(options.OutputDirectory, resumed.OutputDirectory);
        // The finished folder is an ordinary llava-hf checkpoint.
        using var loaded = LlavaPipeline.FromPretrained(resumed.OutputDirectory);
        Assert.That(loaded.Model.Architecture.TokensPerImage, Is.EqualTo(16));
    }

    [Test]
    public void AWarmRestartStartsFromTheGivenWeightsAndResumesExactly()
    {
        using var dir = new TempDir();
        var first = TrainedFirstStage(dir.Path);
        // With a vanishing learning rate the restart ends where it started: the given weights, not a fresh draw.
        var still = first with
        {
            OutputDirectory = Path.Combine(dir.Path, "still"), InitialWeights = first.OutputDirectory, LearningRate = 1e-12, Seed = 7,
        };
        var log = new StringWriter();
        new DemoTrainer(still).Train(log);
        Assert.That(log.ToString(), Does.Contain("starting from the weights in " + first.OutputDirectory));
        AssertSameWeights(first.OutputDirectory, still.OutputDirectory);

        // The second stage as the script runs it (column head, other data seed), interrupted and resumed.
        var second = first with
        {
            OutputDirectory = Path.Combine(dir.Path, "second"), InitialWeights = first.OutputDirectory, Steps = 4,
            ColumnLabels = true, TrainDataSeed = 4,
        };
        new DemoTrainer(second).Train(TextWriter.Null);
        var resumed = second with { OutputDirectory = Path.Combine(dir.Path, "second-resumed") };
        new DemoTrainer(resumed with { InterruptAfterStep = 2 }).Train(TextWriter.Null);
        new DemoTrainer(resumed).Train(TextWriter.Null);
        AssertSameWeights(second.OutputDirectory, resumed.OutputDirectory);
    }

    [Test]
    public void ANativeErrorInTheForwardRunsTheStepAgainToTheSameWeights()
    {
        using var dir = new TempDir();
        var options = new DemoTrainingOptions
        {
            OutputDirectory = Path.Combine(dir.Path, "straight"), Model = Tiny, Steps = 3, BatchSize = 4, WarmupSteps = 1,
            ValidationCount = 8, EvaluateEvery = 3,
        };
        new DemoTrainer(options).Train(TextWriter.Null);
        var faulty = options with { OutputDirectory = Path.Combine(dir.Path, "faulty"), InjectNativeErrorAtStep = 2 };
        var log = new StringWriter();
        new DemoTrainer(faulty).Train(log);
        Assert.That(log.ToString(), Does.Contain("step 2: native error in the forward/backward (injected native error (test)); running the step again"));
        AssertSameWeights(options.OutputDirectory, faulty.OutputDirectory);
    }

    [Test]
    public void ColumnLabelsFollowThePatchOrderOfThePatchLabels()
    {
        const int grid = 4, size = 64;
        var columns = PatchLabels.Columns(grid);
        for (int gx = 0; gx < grid; gx++)
        {
            // One shape whose centre lies in column gx, row 2: the centre label marks a patch of that column.
            var shape = new ShapeObject(ShapeKind.Circle, ShapeColour.Red, gx * 16 + 8, 2 * 16 + 8, 6);
            var classes = new long[grid * grid];
            var centres = new float[grid * grid];
            PatchLabels.Fill(new ShapesScene(size, 1, [shape]), grid, classes, centres);
            int marked = Array.IndexOf(centres, 1f);
            Assert.That(columns[marked], Is.EqualTo(gx), $"shape centre in column {gx}");
            Assert.That(classes[marked], Is.Not.EqualTo(0L), "the shape covers its centre patch");
        }
    }

    [Test]
    public void WhereLabelsMarkTheNamedShapesColumnAtTheAnswersPredictingPosition()
    {
        using var fixture = new EightSampleBatch();
        var (pipeline, samples, followUps, batch) = (fixture.Pipeline, fixture.Samples, fixture.FollowUps, fixture.Batch);
        int grid = Tiny.ImageSize / Tiny.PatchSize;
        var expected = new List<(long Row, long Column)>();
        for (int b = 0; b < samples.Count; b++)
            foreach (var q in followUps[b].Prepend(samples[b].Question))
                if (q.Type is ShapesQuestionType.Colour or ShapesQuestionType.Position)
                    expected.Add((b, (long)Math.Floor(q.About.Single().X / (Tiny.ImageSize / grid))));
        Assert.That(expected, Is.Not.Empty);
        Assert.That(batch.WhereRows.Zip(batch.WhereColumns), Is.EqualTo(expected));
        // Each where position is the logit that predicts some turn's first answer token.
        var firstOfTurn = new HashSet<(long, long)>();
        for (int t = 0; t < batch.TargetIds.Length; t++)
            if (t == 0 || batch.TargetRows[t] != batch.TargetRows[t - 1] || batch.TargetIds[t - 1] == pipeline.Tokenizer.EosId)
                firstOfTurn.Add((batch.TargetRows[t], batch.TargetPositions[t]));
        foreach (var (row, position) in batch.WhereRows.Zip(batch.WherePositions))
            Assert.That(firstOfTurn, Does.Contain((row, position)), $"row {row}: where position {position}");
    }

    [Test]
    public void ExtraSharesSetTheTypesOfTheFirstItemsOnly()
    {
        var options = new DemoTrainingOptions
        {
            OutputDirectory = "unused", Model = Tiny, BatchSize = 16,
            ExtraShare = new Dictionary<string, double> { [ShapesQuestionType.Position] = 0.25, [ShapesQuestionType.Count] = 0.125 },
        };
        var plain = new DemoTrainer(options with { ExtraShare = new Dictionary<string, double>() });
        var boosted = new DemoTrainer(options);
        for (int step = 0; step < 3; step++)
        {
            var a = plain.TrainingSamples(step);
            var b = boosted.TrainingSamples(step);
            // Count first (ordinal order of the type names): 2 count, then 4 position items, then the plain cycle.
            Assert.That(b.Take(6).Select(s => s.Question.Type), Is.EqualTo(new[] { "count", "count", "position", "position", "position", "position" }), $"step {step}");
            Assert.That(b.Skip(6).Select(s => s.Index), Is.EqualTo(a.Skip(6).Select(s => s.Index)), $"step {step}: the rest is the plain schedule");
            Assert.That(b.Take(6).Select(s => s.Index).Intersect(Enumerable.Range(0, 100_000)), Is.Empty, "extra items never repeat plain ones");
        }
    }

    [Test]
    public void ExtraQuestionsReplaceTheFirstItemsAndTheWhereLossResumesExactly()
    {
        using var dir = new TempDir();
        var options = new DemoTrainingOptions
        {
            OutputDirectory = Path.Combine(dir.Path, "straight"), Model = Tiny, Steps = 4, BatchSize = 4, WarmupSteps = 1,
            ValidationCount = 8, EvaluateEvery = 2, CheckpointEvery = 2, ColumnLabels = true, WhereLayer = 2,
            ExtraShare = new Dictionary<string, double> { [ShapesQuestionType.Position] = 0.5 },
        };
        new DemoTrainer(options).Train(TextWriter.Null);
        var resumed = options with { OutputDirectory = Path.Combine(dir.Path, "resumed") };
        new DemoTrainer(resumed with { InterruptAfterStep = 2 }).Train(TextWriter.Null);
        new DemoTrainer(resumed).Train(TextWriter.Null);
        AssertSameWeights(options.OutputDirectory, resumed.OutputDirectory);

        // The where loss changes training (it is wired in).
        var plain = options with { OutputDirectory = Path.Combine(dir.Path, "plain"), WhereLayer = null };
        new DemoTrainer(plain).Train(TextWriter.Null);
        Assert.That(MaxDifference(options.OutputDirectory, plain.OutputDirectory, "layers.0.self_attn.q_proj.weight"), Is.GreaterThan(0f),
            "the where loss moved the lower decoder layers");
    }

    [Test]
    public void HeadOnlyStepsLeaveTheModelAsGivenButTrainTheHeads()
    {
        using var dir = new TempDir();
        var first = TrainedFirstStage(dir.Path);
        // With weight decay on (the default): decay alone moves weights whose gradient is zero.
        var heads = first with
        {
            OutputDirectory = Path.Combine(dir.Path, "heads"), InitialWeights = first.OutputDirectory, Steps = 3,
            HeadOnlySteps = 3, WeightDecay = 0.1, LearningRate = 1e-2, WhereLayer = 1, ColumnLabels = true,
        };
        var log = new StringWriter();
        new DemoTrainer(heads).Train(log);
        AssertSameWeights(first.OutputDirectory, heads.OutputDirectory);
        Assert.That(log.ToString(), Does.Contain(", where "), "the where loss is logged");

        // One joint step after the head-only ones moves the model.
        var joint = heads with { OutputDirectory = Path.Combine(dir.Path, "joint"), Steps = 4 };
        new DemoTrainer(joint).Train(TextWriter.Null);
        Assert.That(MaxDifference(first.OutputDirectory, joint.OutputDirectory, "layers.0.self_attn.q_proj.weight"), Is.GreaterThan(0f));
    }

    /// <summary>A two-step run from scratch into DIR/first, the starting point of the warm-restart tests.</summary>
    static DemoTrainingOptions TrainedFirstStage(string dir)
    {
        var first = new DemoTrainingOptions
        {
            OutputDirectory = Path.Combine(dir, "first"), Model = Tiny, Steps = 2, BatchSize = 4, WarmupSteps = 1,
            ValidationCount = 8, EvaluateEvery = 2, CheckpointEvery = 2,
        };
        new DemoTrainer(first).Train(TextWriter.Null);
        return first;
    }

    /// <summary>Max |a - b| of the decoder weight whose name ends with <paramref name="suffix"/> in two model folders.</summary>
    static float MaxDifference(string folderA, string folderB, string suffix)
    {
        using var a = CheckpointSource.Open(Path.Combine(folderA, "model.safetensors"));
        using var b = CheckpointSource.Open(Path.Combine(folderB, "model.safetensors"));
        static bool Decoder(string k, string suffix) => k.Contains("language_model", StringComparison.Ordinal) && k.EndsWith(suffix, StringComparison.Ordinal);
        using var x = a.Load(a.Entries.Keys.Single(k => Decoder(k, suffix)));
        using var y = b.Load(b.Entries.Keys.Single(k => Decoder(k, suffix)));
        using var diff = (x - y).abs().max();
        return diff.item<float>();
    }

    static void AssertSameWeights(string expectedFolder, string actualFolder)
    {
        using var a = CheckpointSource.Open(Path.Combine(expectedFolder, "model.safetensors"));
        using var b = CheckpointSource.Open(Path.Combine(actualFolder, "model.safetensors"));
        Assert.That(b.Entries.Keys, Is.EquivalentTo(a.Entries.Keys));
        foreach (var name in a.Entries.Keys)
        {
            using var x = a.Load(name);
            using var y = b.Load(name);
            TensorAssert.Close(y, x, 1e-6, 1e-5, name);
        }
    }

    /// <summary>The tiny model (seed 5) and a batch of eight generated samples (seed 9) with two follow-ups each.</summary>
    sealed class EightSampleBatch : IDisposable
    {
        readonly TempDir _dir = new();
        public IVisionLanguageModel Pipeline { get; }
        public List<ShapesSample> Samples { get; }
        public List<IReadOnlyList<ShapesQuestion>> FollowUps { get; }
        public DemoBatch Batch { get; }

        public EightSampleBatch()
        {
            Pipeline = DemoTrainer.CreateModel(_dir.Path, Tiny, seed: 5);
            var generator = new ShapesGenerator(new ShapesGeneratorOptions { ImageSize = Tiny.ImageSize });
            Samples = generator.Samples(seed: 9, count: 8).ToList();
            FollowUps = Samples.Select(s => generator.FollowUps(9, s, 2)).ToList();
            Batch = new DemoBatchBuilder(Pipeline, generator).Build(Samples, FollowUps);
        }

        public void Dispose()
        {
            Batch.Dispose();
            Pipeline.Dispose();
            _dir.Dispose();
        }
    }
}
