using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using PioFvlm.Core.Vision;
using SkiaSharp;

namespace PioFvlm.Bench.Demo;

/// <summary>
/// Writes a generated split in LLaVA's eval format: <c>images/NNNNNN.png</c> (lossless, so the harness sees the
/// pixels training saw), <c>questions.jsonl</c> (question_id, image, text, category, answer, and the ground truth
/// <c>relevant_patches</c>: <see cref="RelevantPatches"/> on the model's patch grid) and, for the blank-image
/// control, <c>questions-blank.jsonl</c>: the same questions on one flat grey image. A <c>dataset.json</c> records the
/// seed, count and generator settings; an existing folder with the same record is reused, not rewritten.
/// </summary>
public static class ShapesDataset
{
    public const string Questions = "questions.jsonl";
    public const string BlankQuestions = "questions-blank.jsonl";
    public const string ImagesFolder = "images";
    public const string BlankImage = "blank.png";
    const string Manifest = "dataset.json";

    /// <summary>The extra question field with the relevant patch indices (a JSON array); other benchmarks' readers ignore it.</summary>
    public const string RelevantField = Eval.GroundTruth.RelevantField;

    /// <summary>Writes (or finds up to date) the split; returns the path of questions.jsonl. <paramref name="patchGrid"/> is
    /// the model's patch grid side (8 for 128 px at patch 16), for the relevant patches.</summary>
    public static string Write(string directory, ShapesGeneratorOptions options, int seed, int count, int patchGrid, IProgress<int>? progress = null)
    {
        var manifest = new JsonObject
        {
            ["generator"] = "PioFvlm shapes VQA v1", ["seed"] = seed, ["count"] = count, ["image_size"] = options.ImageSize,
            ["min_radius"] = options.MinRadius, ["max_radius"] = options.MaxRadius, ["min_gap"] = options.MinGap,
            ["patch_grid"] = patchGrid, ["relevant_rule"] = $"cover >= 1/{RelevantPatches.CoverDivisor} or centre",
        }.ToJsonString();
        string manifestPath = Path.Combine(directory, Manifest);
        string questionsPath = Path.Combine(directory, Questions);
        if (File.Exists(manifestPath) && File.ReadAllText(manifestPath) == manifest && File.Exists(questionsPath)
            && File.Exists(Path.Combine(directory, BlankQuestions)))
            return questionsPath;

        string images = Path.Combine(directory, ImagesFolder);
        Directory.CreateDirectory(images);
        var generator = new ShapesGenerator(options);
        var lines = new List<string>();
        var blankLines = new List<string>();
        var json = new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        foreach (var sample in generator.Samples(seed, count))
        {
            string name = $"{sample.Index:D6}.png";
            WritePng(ShapesRenderer.Render(sample.Scene), Path.Combine(images, name));
            var line = Line(sample, $"{ImagesFolder}/{name}");
            line[RelevantField] = new JsonArray(RelevantPatches.Of(sample, patchGrid).Select(i => (JsonNode?)JsonValue.Create(i)).ToArray());
            lines.Add(line.ToJsonString(json));
            blankLines.Add(Line(sample, BlankImage).ToJsonString(json));
            progress?.Report(sample.Index + 1);
        }
        var grey = new byte[options.ImageSize * options.ImageSize * 3];
        Array.Fill(grey, (byte)128);
        WritePng(new RgbImage(options.ImageSize, options.ImageSize, grey), Path.Combine(directory, BlankImage));
        File.WriteAllLines(Path.Combine(directory, BlankQuestions), blankLines);
        File.WriteAllLines(questionsPath, lines);
        File.WriteAllText(manifestPath, manifest);   // last: its presence means the split is complete
        return questionsPath;
    }

    static JsonObject Line(ShapesSample s, string image) => new()
    {
        ["question_id"] = $"shapes-{s.Index:D6}",
        ["image"] = image,
        ["text"] = Demo.DemoBatchBuilder.PromptText(s.Question),
        ["category"] = s.Question.Type,
        ["answer"] = s.Question.Answer,
    };

    /// <summary>Lossless PNG of an RGB image.</summary>
    public static void WritePng(RgbImage image, string path)
    {
        var rgba = new byte[image.Width * image.Height * 4];
        for (int i = 0, j = 0; i < image.Pixels.Length; i += 3, j += 4)
        {
            rgba[j] = image.Pixels[i];
            rgba[j + 1] = image.Pixels[i + 1];
            rgba[j + 2] = image.Pixels[i + 2];
            rgba[j + 3] = 255;
        }
        var info = new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var data = SKData.CreateCopy(rgba);
        using var img = SKImage.FromPixels(info, data, info.RowBytes);
        using var png = img.Encode(SKEncodedImageFormat.Png, 100);
        string temp = path + ".tmp";
        using (var file = File.Create(temp)) png.SaveTo(file);
        File.Move(temp, path, overwrite: true);
    }
}
