using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace PioFvlm.Bench.Eval.Runner;

/// <summary>
/// The identity of one method's answers: what changes an answer (model path, dtype, device, vision tower, question file,
/// image folder, max new tokens, the method's pruning JSON) and nothing that does not (limit, shard, output folder), so
/// shards and limited runs of one config share it. 16 hex digits of SHA-256 over the canonical JSON.
/// </summary>
public static class ConfigHash
{
    public static JsonObject Identity(RunOptions run, MethodSpec method) => new()
    {
        ["model"] = run.Model.Path, ["dtype"] = run.Model.DType.ToString(), ["device"] = run.Model.Device,
        ["vision_tower"] = run.Model.VisionTower, ["dataset"] = run.Eval.Dataset, ["image_folder"] = run.Eval.ImageFolder,
        ["max_new_tokens"] = run.Eval.MaxNewTokens, ["format"] = run.Eval.Format.ToString(), ["method"] = method.Name, ["pruning"] = method.CanonicalJson,
    };

    public static string Of(RunOptions run, MethodSpec method) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Identity(run, method).ToJsonString())))[..16];
}
