using PioFvlm.Models.Configs;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Configs;

/// <summary>Parameter counts against sums written out here from the specs' tensor shape tables (llava.md §3.1/3.2,
/// qwen25vl A2), one term per tensor, and against the specs' published totals.</summary>
public class ModelSizeEstimatorTests
{
    // CLIP ViT-L/14-336 (llava.md §3.1): class_embedding [1024]; patch_embedding [1024,3,14,14]; position_embedding
    // [577,1024]; pre_layrnorm w,b; 24 × (q,k,v,out [1024,1024]+[1024]; layer_norm1/2 w,b; fc1 [4096,1024]+[4096];
    // fc2 [1024,4096]+[1024]); post_layernorm w,b.
    const long ClipL336 =
        1024 + 1024L * 3 * 14 * 14 + 577L * 1024 + 2 * 1024
        + 24 * (4 * (1024L * 1024 + 1024) + 2 * 2 * 1024 + (4096L * 1024 + 4096) + (1024L * 4096 + 1024))
        + 2 * 1024;

    // multi_modal_projector.linear_1 [4096,1024]+[4096], linear_2 [4096,4096]+[4096]
    const long LlavaProjector = 4096L * 1024 + 4096 + 4096L * 4096 + 4096;

    // Vicuna-7B layer: q,k,v,o [4096,4096]; gate,up [11008,4096]; down [4096,11008]; two RMSNorm [4096]
    const long VicunaLayer = 4 * 4096L * 4096 + 3 * 11008L * 4096 + 2 * 4096;

    // Mistral-7B layer (§3.2): q,o [4096,4096]; k,v [1024,4096]; gate,up [14336,4096]; down [4096,14336]; norms
    const long MistralLayer = 2 * 4096L * 4096 + 2 * 1024L * 4096 + 3 * 14336L * 4096 + 2 * 4096;

    [Test]
    public void Llava15Hf_MatchesHandSumAndSpecTotal()
    {
        long expected = ClipL336 + LlavaProjector
            + 32064L * 4096 /*embed_tokens*/ + 32 * VicunaLayer + 4096 /*norm*/ + 32064L * 4096 /*lm_head, untied*/;
        Assert.That(expected, Is.EqualTo(7_063_427_072L), "llava.md §1 size check");

        var size = ModelSizeEstimator.Estimate(HfConfigLoader.Load(ConfigFiles.File(ConfigFiles.Llava15Hf)));
        Assert.That(size.Total, Is.EqualTo(expected));
        Assert.That(size.VisionTower, Is.EqualTo(ClipL336));
        Assert.That(size.Projector, Is.EqualTo(LlavaProjector));
        Assert.That(size.Bytes(ScalarType.Float16), Is.EqualTo(14_126_854_144L), "index.json total_size (§1)");
    }

    [Test]
    public void Llava15Research_WithoutTower_MatchesSpec_AndWithTowerAddsClip()
    {
        var research = (LlavaConfig)HfConfigLoader.Load(ConfigFiles.File(ConfigFiles.Llava15Research));
        var size = ModelSizeEstimator.Estimate(research);
        long expected = LlavaProjector + 2 * 32000L * 4096 + 32 * VicunaLayer + 4096;
        Assert.That(expected, Is.EqualTo(6_759_395_328L), "llava.md §1: research LM + projector");
        Assert.That(size.Total, Is.EqualTo(expected));
        Assert.That(size.VisionTowerKnown, Is.False);

        var full = ModelSizeEstimator.Estimate(research.WithVisionTower(ClipVisionConfig.ClipVitLargePatch14_336));
        Assert.That(full.Total, Is.EqualTo(expected + ClipL336));
    }

    [Test]
    public void LlavaNextMistral_MatchesHandSumAndSpecTotal()
    {
        long expected = ClipL336 + LlavaProjector + 4096 /*image_newline*/
            + 32064L * 4096 + 32 * MistralLayer + 4096 + 32064L * 4096;
        Assert.That(expected, Is.EqualTo(7_566_747_648L), "llava.md §1");
        var size = ModelSizeEstimator.Estimate(HfConfigLoader.Load(ConfigFiles.File(ConfigFiles.LlavaNextMistralHf)));
        Assert.That(size.Total, Is.EqualTo(expected));
        Assert.That(size.Other, Is.EqualTo(4096));
    }

    [Test]
    public void Qwen25Vl7B_MatchesHandSumFromTensorTable()
    {
        // qwen25vl A2: patch_embed [1280,3,2,14,14]; 32 × (norm1,norm2 [1280]; qkv [3840,1280]+[3840];
        // proj [1280,1280]+[1280]; gate,up [3420,1280]+[3420]; down [1280,3420]+[1280]).
        const long visionBlocks = 1280L * 3 * 2 * 14 * 14
            + 32 * (2 * 1280 + (3840L * 1280 + 3840) + (1280L * 1280 + 1280) + 2 * (3420L * 1280 + 3420) + (1280L * 3420 + 1280));
        // merger: ln_q [1280]; mlp.0 [5120,5120]+[5120]; mlp.2 [3584,5120]+[3584]
        const long merger = 1280 + (5120L * 5120 + 5120) + (3584L * 5120 + 3584);
        // text: q [3584,3584]+b; k,v [512,3584]+b; o [3584,3584]; gate,up [18944,3584]; down [3584,18944]; 2 norms
        const long layer = (3584L * 3584 + 3584) + 2 * (512L * 3584 + 512) + 3584L * 3584 + 3 * 18944L * 3584 + 2 * 3584;
        const long trunk = 152064L * 3584 + 28 * layer + 3584;
        const long lmHead = 152064L * 3584;

        Assert.That(trunk, Is.EqualTo(7_070_619_136L), "qwen25vl A1 text trunk");
        Assert.That(lmHead, Is.EqualTo(544_997_376L), "qwen25vl A1 lm_head");
        // A1 states vision 676,551,168 and total 8,292,167,680: 1,024 more than the A2 tensor table sums to
        // (390 tensors, all counted here). The table is the authority; the figure is within 1.3e-7 of the spec's.
        Assert.That(visionBlocks + merger, Is.EqualTo(676_551_168L).Within(1024));

        var size = ModelSizeEstimator.Estimate(HfConfigLoader.Load(ConfigFiles.File(ConfigFiles.Qwen25Vl7B)));
        Assert.That(size.VisionTower, Is.EqualTo(visionBlocks));
        Assert.That(size.Projector, Is.EqualTo(merger));
        Assert.That(size.TextEmbedding + size.TextLayers + size.TextFinalNorm, Is.EqualTo(trunk));
        Assert.That(size.LmHead, Is.EqualTo(lmHead));
        Assert.That(size.Total, Is.EqualTo(visionBlocks + merger + trunk + lmHead));
        Assert.That(size.Total, Is.EqualTo(8_292_166_656L));
        Assert.That(size.Bytes(ScalarType.BFloat16) / 1e9, Is.EqualTo(16.58).Within(0.01), "A1: 16.58 GB in bf16");
        Assert.That(size.Bytes(ScalarType.Float32) / 1e9, Is.EqualTo(33.2).Within(0.05), "A1: 33.2 GB in fp32");
    }

    [Test]
    public void TiedEmbeddings_DropLmHead()
    {
        var c = (LlavaConfig)HfConfigLoader.Load(ConfigFiles.File(ConfigFiles.Llava15Hf));
        var tied = c with { Text = c.Text with { TieWordEmbeddings = true } };
        Assert.That(ModelSizeEstimator.Estimate(c).Total - ModelSizeEstimator.Estimate(tied).Total, Is.EqualTo(32064L * 4096));
    }
}
