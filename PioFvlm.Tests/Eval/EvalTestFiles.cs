using PioFvlm.Bench.Eval;
using PioFvlm.Bench.Eval.Datasets;

namespace PioFvlm.Tests.Eval;

/// <summary>Small answer lists for scorer tests.</summary>
static class EvalTestFiles
{
    public static List<AnswerRecord> Answers(params (string Id, string Text)[] items) =>
        items.Select(i => new AnswerRecord(i.Id, "", i.Text, "a" + i.Id, "m", new Dictionary<string, string>())).ToList();

    public static List<AnswerRecord> Answers(params (string Id, string Prompt, string Text)[] items) =>
        items.Select(i => new AnswerRecord(i.Id, i.Prompt, i.Text, "a" + i.Id, "m", new Dictionary<string, string>())).ToList();

    public static void WriteLines(string path, params string[] lines) => File.WriteAllLines(path, lines);

    public static void WriteAnswers(string path, IEnumerable<AnswerRecord> answers) => AnswersFile.Write(path, answers);
}
