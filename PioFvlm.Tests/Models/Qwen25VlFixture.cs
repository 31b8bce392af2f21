using PioFvlm.Core.Generation;
using PioFvlm.Core.IO;
using PioFvlm.Models;
using PioFvlm.Models.Qwen25Vl;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

/// <summary>The committed Qwen2.5-VL transformers fixture (two images) as the pipeline tests load it.</summary>
internal static class Qwen25VlFixture
{
    public static Qwen25VlPipeline Load() =>
        (Qwen25VlPipeline)VlmLoader.FromPretrained(HfFixtures.Dir("qwen25vl"), new LoadOptions { RequireTokenizer = false });

    /// <summary>The pipeline, the transformers reference tensors and the inputs built from them; disposes all three.</summary>
    public static Session Open()
    {
        var reference = HfFixtures.Open("qwen25vl", "reference.safetensors");
        return new Session(Load(), reference, Inputs(reference));
    }

    public sealed record Session(Qwen25VlPipeline Pipeline, ITensorSource Reference, VlmInputs Inputs) : IDisposable
    {
        public void Dispose()
        {
            Inputs.Dispose();
            Reference.Dispose();
            Pipeline.Dispose();
        }
    }

    /// <summary>The fixture's prompt ids, pixel values and grids as pipeline inputs (2 new tokens of room).</summary>
    public static VlmInputs Inputs(ITensorSource reference) => new(
        HfFixtures.Ids(reference.Load("input_ids", ScalarType.Int64)), reference.Load("pixel_values"), 2,
        imageGridThw: reference.Load("image_grid_thw", ScalarType.Int64));
}
