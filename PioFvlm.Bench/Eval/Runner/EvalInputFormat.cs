namespace PioFvlm.Bench.Eval.Runner;

/// <summary>The question file's format (Run:Eval:Format).</summary>
public enum EvalInputFormat
{
    /// <summary>LLaVA eval question jsonl: POPE, MME, GQA, TextVQA, VQAv2.</summary>
    LlavaJsonl,
    /// <summary>MMBench TSV (images inline as base64; options A-D and hint folded into the prompt).</summary>
    MmBenchTsv,
    /// <summary>LLaVA's ScienceQA json list (llava_test_CQM-A.json: id, image, conversations).</summary>
    ScienceQaJson,
}
