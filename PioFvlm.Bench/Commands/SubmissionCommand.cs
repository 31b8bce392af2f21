using PioFvlm.Bench.Eval.Datasets;
using PioFvlm.Bench.Eval.Submission;

namespace PioFvlm.Bench.Commands;

/// <summary>
/// <c>pio-fvlm submission --benchmark vqav2|mmbench --answers FILE --questions FILE --out FILE</c>: the upload file for a
/// benchmark scored by its official server (VQAv2 test-dev json; MMBench xlsx).
/// </summary>
public static class SubmissionCommand
{
    public static readonly CommandSyntax Syntax = new("submission",
    [
        CliOption.Require("benchmark", "vqav2|mmbench", "which official server the file is for"),
        CliOption.Require("answers", "FILE", "the answers jsonl (LLaVA format)"),
        CliOption.Require("questions", "FILE", "the test-dev questions jsonl (VQAv2) or TSV (MMBench)"),
        CliOption.Require("out", "FILE", "the upload file to write (.json for VQAv2, .xlsx for MMBench)"),
    ]);

    public static int Run(string[] args)
    {
        var a = new ArgReader(args, Syntax);
        string benchmark = a.Value("benchmark") ?? throw new UsageException("missing --benchmark (vqav2|mmbench)");
        string answers = a.Value("answers") ?? throw new UsageException("missing --answers FILE");
        string questions = a.Value("questions") ?? throw new UsageException("missing --questions FILE (the test-dev jsonl / MMBench TSV)");
        string output = a.Value("out") ?? throw new UsageException("missing --out FILE");
        if (benchmark is not ("vqav2" or "mmbench")) throw new UsageException($"--benchmark must be vqav2 or mmbench, got '{benchmark}'");
        try
        {
            var records = AnswersFile.Read(answers);
            int missing = benchmark switch
            {
                "vqav2" => VqaV2Submission.Write(records, questions, output),
                "mmbench" => MmBenchSubmission.Write(records, questions, output),
                _ => throw new InvalidOperationException("unreachable: benchmark checked above"),
            };
            Console.WriteLine($"wrote {output}{(missing > 0 ? $" ({missing} questions had no answer and were left empty)" : "")}");
            return 0;
        }
        catch (Exception e) when (e is EvalDataException or FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            Console.Error.WriteLine($"pio-fvlm submission: {e.Message}");
            return 1;
        }
    }
}
