using System.Collections;
using PioFvlm.Bench.Eval.Runner;
using PioFvlm.Tests.Pruning;

namespace PioFvlm.Tests.Eval;

/// <summary>Runs of the bundled tiny LLaVA on the committed tiny-smoke questions, into a temp output folder.</summary>
static class RunnerTestKit
{
    public static string SmokeConfig => Path.Combine(FastVTests.RepoRoot(), "configs", "runs", "tiny-smoke.json");

    public static readonly string[] AllIds = ["q1", "q2", "q3", "q4", "q5", "q6"];

    /// <summary>The tiny-smoke run with KeepAll and Random only, 2 new tokens, output under <paramref name="output"/>.</summary>
    public static RunOptions Options(string output, params string[] overrides) =>
        RunConfigLoader.Load(SmokeConfig, ["--Run:Methods:PioFvlm=", "--Run:Eval:MaxNewTokens=2", $"--output={output}", .. overrides], new Hashtable());

    public static EvalRunResult Run(string output, params string[] overrides) =>
        EvalRunner.Run(Options(output, overrides), new LlavaQuestionJsonl(), TextWriter.Null);

    public static string[] Ids(string answersFile) => AnswerFile.Read(answersFile).Select(a => a.QuestionId).ToArray();
}
