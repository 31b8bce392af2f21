using PioFvlm.Core.Generation;
using PioFvlm.Core.Nn;
using PioFvlm.Core.Pruning;
using PioFvlm.Core.Text;
using PioFvlm.Core.Vision;
using static TorchSharp.torch;

namespace PioFvlm.Core.Models;

/// <summary>
/// A loaded vision-language model of any family: the one interface the CLI, the evaluation harness, the demo, the
/// benchmarks and the library's one-call API use. The steps of one answer are
/// <see cref="FormatPrompt"/> → <see cref="Prepare"/> → <see cref="BuildSequence"/> (vision stage, optional pre-LLM
/// reducer) → <see cref="Prefill"/> (optional intra-LLM pruner) → <see cref="DecoderRunner.Step"/> → <see cref="DecodeText"/>;
/// <see cref="VlmGeneration.Generate(IVisionLanguageModel, VlmInputs, GenerationOptions?, PruningPlan?)"/> runs them all.
/// <para>Threads: weights are read-only after loading and each call has its own cache; several threads may generate at
/// once with one model and one plan (pruners hold configuration only).</para>
/// </summary>
public interface IVisionLanguageModel : IDisposable
{
    ModelProfile Profile { get; }
    ITokenizer Tokenizer { get; }
    IDecoderStack Decoder { get; }
    ScalarType DType { get; }
    Device Device { get; }

    /// <summary>Token ids that end an answer (config, generation_config and the tokenizer's EOS).</summary>
    IReadOnlySet<int> EosIds { get; }

    /// <summary>The conversation template the checkpoint was trained with, around one question and its images.</summary>
    string FormatPrompt(string question, int imageCount = 1);

    /// <summary>Tokenises a formatted prompt and preprocesses its images; checks the length against the model's limit
    /// (<paramref name="maxNewTokens"/> included).</summary>
    VlmInputs Prepare(string prompt, IReadOnlyList<RgbImage> images, int maxNewTokens = 0);

    /// <summary>Vision tower, projector, the optional pre-LLM reducer, and the splice into the prompt.
    /// <paramref name="pruningScope"/> (a plan's <see cref="PruningPlan.Scope"/>) picks which tokens of an anyres image the
    /// spans mark as visual; null is the model's own default. A family without a base view refuses
    /// <see cref="AnyresPruningScope.BaseViewOnly"/> (<see cref="NotSupportedException"/>).</summary>
    VisionStageOutput BuildSequence(VlmInputs inputs, IPreLlmReducer? reducer = null, AnyresPruningScope? pruningScope = null);

    /// <summary>A KV cache for one sequence of up to <paramref name="capacity"/> positions.</summary>
    KvCache NewCache(long capacity);

    /// <summary>Prefill into <paramref name="cache"/> with an optional intra-LLM pruner; a null policy is the family's
    /// default (<see cref="ModelProfile.DefaultPositions"/>).</summary>
    PrefillResult Prefill(MultimodalSequence sequence, KvCache cache, IPrefillPruner? pruner = null, PositionPolicy? policy = null);

    /// <summary>The answer text of generated ids (special and unknown ids skipped, trimmed).</summary>
    string DecodeText(IEnumerable<int> tokenIds);
}
