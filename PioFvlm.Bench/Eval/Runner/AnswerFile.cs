using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PioFvlm.Bench.Eval.Runner;

/// <summary>
/// An answers jsonl (LLaVA format, one line per question, flushed as written) with its sidecar
/// <c>FILE.meta.json</c> = <c>{"config_hash", "method", "shard"}</c>, written before the first answer. Resuming
/// skips question ids already in the file and refuses a file written under another config hash; a torn last line (a
/// run killed mid-write) is cut off and that question answered again.
/// </summary>
public sealed class AnswerFile : IDisposable
{
    static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    readonly StreamWriter _writer;
    readonly HashSet<string> _answered;

    public string Path { get; }
    public IReadOnlySet<string> Answered => _answered;

    AnswerFile(string path, StreamWriter writer, HashSet<string> answered)
    {
        Path = path;
        _writer = writer;
        _answered = answered;
    }

    public static string MetaPath(string answersPath) => answersPath + ".meta.json";

    /// <summary>Opens for appending, creating file and sidecar, or checks the sidecar's hash and resumes.</summary>
    public static AnswerFile OpenOrResume(string path, string configHash, string method, string? shard)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        string meta = MetaPath(path);
        var answered = new HashSet<string>();
        if (File.Exists(path) || File.Exists(meta))
        {
            string found = ReadHash(path);
            if (found != configHash)
                throw new InvalidOperationException(
                    $"{path} was written with config hash {found} but this run's config hash is {configHash}; " +
                    "the model, dataset, generation or pruning settings differ. Use another Run:Output:Directory or delete the file to start over");
            CutTornLine(path);
            foreach (var r in Read(path)) answered.Add(r.QuestionId);
        }
        else
        {
            AtomicFile.WriteAllText(meta, new JsonObject { ["config_hash"] = configHash, ["method"] = method, ["shard"] = shard }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }
        var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        return new AnswerFile(path, new StreamWriter(stream, new UTF8Encoding(false)), answered);
    }

    /// <summary>The config hash an answers file was written under (its sidecar).</summary>
    public static string ReadHash(string answersPath)
    {
        string meta = MetaPath(answersPath);
        if (!File.Exists(meta)) throw new InvalidOperationException($"{answersPath} has no {System.IO.Path.GetFileName(meta)}; cannot tell which config wrote it");
        return JsonNode.Parse(File.ReadAllText(meta))?["config_hash"]?.GetValue<string>()
            ?? throw new FormatException($"{meta}: no config_hash");
    }

    public void Write(AnswerRecord answer)
    {
        if (!_answered.Add(answer.QuestionId)) throw new InvalidOperationException($"{Path}: question {answer.QuestionId} is already answered");
        _writer.Write(ToJsonLine(answer));
        _writer.Write('\n');
        _writer.Flush();
    }

    public static string ToJsonLine(AnswerRecord a)
    {
        var metadata = new JsonObject();
        foreach (var (k, v) in a.Metadata) metadata[k] = v;
        return new JsonObject
        {
            ["question_id"] = a.QuestionId, ["prompt"] = a.Prompt, ["text"] = a.Text,
            ["answer_id"] = a.AnswerId, ["model_id"] = a.ModelId, ["metadata"] = metadata,
        }.ToJsonString(Compact);
    }

    /// <summary>Every answer of a file, in file order.</summary>
    public static IReadOnlyList<AnswerRecord> Read(string path)
    {
        var list = new List<AnswerRecord>();
        if (!File.Exists(path)) return list;
        int n = 0;
        foreach (string line in File.ReadLines(path))
        {
            n++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonNode node;
            try { node = JsonNode.Parse(line)!; }
            catch (JsonException e) { throw new FormatException($"{path}:{n}: not valid JSON: {e.Message}", e); }
            var meta = node["metadata"] as JsonObject;
            list.Add(new AnswerRecord(
                node["question_id"]?.ToString() ?? throw new FormatException($"{path}:{n}: no question_id"),
                node["prompt"]?.ToString() ?? "", node["text"]?.ToString() ?? "",
                node["answer_id"]?.ToString() ?? "", node["model_id"]?.ToString() ?? "",
                meta is null ? new Dictionary<string, string>() : meta.ToDictionary(p => p.Key, p => p.Value?.ToString() ?? "")));
        }
        return list;
    }

    /// <summary>A file not ending in a newline was cut mid-line: drop the partial line.</summary>
    static void CutTornLine(string path)
    {
        if (!File.Exists(path)) return;
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length == 0 || bytes[^1] == (byte)'\n') return;
        int last = Array.LastIndexOf(bytes, (byte)'\n');
        using var f = new FileStream(path, FileMode.Open, FileAccess.Write);
        f.SetLength(last + 1);
    }

    public void Dispose() => _writer.Dispose();
}
