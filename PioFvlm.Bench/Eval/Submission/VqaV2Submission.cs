using System.Text.Json.Nodes;
using PioFvlm.Bench.Eval.Datasets;
using PioFvlm.Bench.Eval.Scoring;

namespace PioFvlm.Bench.Eval.Submission;

/// <summary>
/// The VQAv2 test-dev upload (EvalAI), as LLaVA's convert_vqav2_for_submission.py writes it: a JSON list of
/// <c>{"question_id": int, "answer": normalised text}</c> covering every question of the question file, "" for a
/// question without an answer.
/// </summary>
public static class VqaV2Submission
{
    public static int Write(IReadOnlyList<AnswerRecord> answers, string questionFile, string output)
    {
        var byId = new Dictionary<string, string>();
        foreach (var a in answers) byId[a.QuestionId] = a.Text;
        var list = new JsonArray();
        int missing = 0;
        foreach (var q in LlavaQuestionFile.Read(questionFile, imageFolder: null).Samples)
        {
            if (!long.TryParse(q.QuestionId, out long id))
                throw new EvalDataException($"{questionFile}: question_id '{q.QuestionId}' is not an integer, as VQAv2 ids are");
            if (!byId.TryGetValue(q.QuestionId, out var text)) { missing++; text = ""; }
            list.Add(new JsonObject { ["question_id"] = id, ["answer"] = VqaAnswerNormalizer.Normalize(text) });
        }
        Runner.AtomicFile.WriteAllText(output, list.ToJsonString());
        return missing;
    }
}
