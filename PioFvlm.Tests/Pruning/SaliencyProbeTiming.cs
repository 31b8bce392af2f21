using System.Diagnostics;
using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Pruning.Saliency;
using PioFvlm.Models.Text.Llama;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Pruning;

/// <summary>
/// Not a check: times the Full and Cheap probes at the LLaVA-1.5-7B layer shape (hidden 4096, 32 heads, MLP 11008,
/// vocab 32000) in bf16, S = 636 (576 visual + 60 text), on a 2-layer model (about 1.3 GB). Run by name:
/// <c>dotnet test PioFvlm.Tests --filter "FullyQualifiedName~SaliencyProbeTiming"</c>.
/// </summary>
[Explicit("measurement, about 1.3 GB and a minute of CPU"), NonParallelizable]
public sealed class SaliencyProbeTiming
{
    [Test]
    public void FullVsCheap_7BLayerShape_Bf16()
    {
        int threads = get_num_threads();
        set_num_threads(2);
        try
        {
            var dims = new DecoderDims(HiddenSize: 4096, NumHeads: 32, NumKvHeads: 32, HeadDim: 128, IntermediateSize: 11008,
                NumLayers: 2, RmsNormEps: 1e-5, RopeTheta: 10000, VocabSize: 32000, MaxPositions: 4096,
                TieWordEmbeddings: false, AttentionBias: false);
            using var ng = no_grad();
            manual_seed(3);
            using var lm = new LlamaForCausalLM("lm", dims, dtype: ScalarType.BFloat16);
            foreach (var p in lm.parameters()) p.requires_grad_(false);
            using var scope = NewDisposeScope();
            const long visualStart = 35, visual = 576, length = 636;
            var hidden = randn([1, length, dims.HiddenSize], dtype: ScalarType.BFloat16);
            var positions = arange(length, dtype: ScalarType.Int64).unsqueeze(0);
            var state = new PrefillState(hidden, positions, [new VisualSpan(visualStart, visual, 0)],
                                         Enumerable.Repeat(0, (int)length).ToArray(), 1);
            var window = SupervisedPositions.For(length, SupervisionWindow.Reference, 4);

            var medians = new Dictionary<string, double>();
            Tensor? fullScores = null, cheapScores = null;
            foreach (var (name, options) in new[]
                     {
                         ("Full", new GradientSaliencyOptions { Probe = ProbeImplementation.Full }),
                         ("Cheap", new GradientSaliencyOptions { Probe = ProbeImplementation.Cheap }),
                         ("Cheap+Fp32Gradient", new GradientSaliencyOptions { Probe = ProbeImplementation.Cheap, Fp32Gradient = true }),
                     })
            {
                var scorer = new GradientSaliency(options);
                var warm = scorer.ScoreWithDiagnostics(state, lm);       // warm-up
                var last = warm.Scores;
                Assert.That(warm.Diagnostics.IsUsable, Is.True, $"{name}: {warm.Diagnostics}");
                var times = new List<double>();
                for (int i = 0; i < 3; i++)
                {
                    last.Dispose();
                    var clock = Stopwatch.StartNew();
                    last = scorer.Score(state, lm);
                    times.Add(clock.Elapsed.TotalMilliseconds);
                }
                times.Sort();
                medians[name] = times[1];
                if (name == "Full") fullScores = last;
                if (name == "Cheap") cheapScores = last;
                var flops = options.Fp32Gradient ? double.NaN : GradientSaliency.ForwardFlops(dims, length, window, options.Probe);
                TestContext.Progress.WriteLine($"{name,-20} median {times[1],9:F1} ms  (runs {string.Join(", ", times.Select(t => t.ToString("F1")))})  forward GFLOP {flops / 1e9:F1}");
            }
            TestContext.Progress.WriteLine($"speedup Full / Cheap = {medians["Full"] / medians["Cheap"]:F2}x");
            var rel = ((fullScores! - cheapScores!).abs().max() / fullScores!.abs().max()).item<float>();
            TestContext.Progress.WriteLine($"load average {File.ReadAllText("/proc/loadavg").Trim()} (2 cores shared)");
            TestContext.Progress.WriteLine($"bf16 saliency max |full − cheap| / max = {rel:G3}");
        }
        finally
        {
            set_num_threads(threads);
        }
    }
}
