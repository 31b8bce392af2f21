using PioFvlm.Models.Llava;
using PioFvlm.Tests.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Vision;

public class ClipVisionTowerTests
{
    /// <summary>The tiny §10.1 tower with every parameter random (LayerNorm weights near 1), seeded.</summary>
    static ClipVisionTower RandomTower(ClipFeatureSelection? selection = null, ClipVisionDims? dims = null, long seed = 11)
    {
        var tower = new ClipVisionTower(dims ?? ClipVisionDims.Tiny, selection);
        using var _ = no_grad();
        var gen = new Generator((ulong)seed);
        foreach (var (name, p) in tower.named_parameters())
        {
            var noise = randn(p.shape, generator: gen) * 0.2;
            p.copy_(name.Contains("norm") && name.EndsWith("weight") ? noise * 0.5 + 1 : noise);
        }
        return tower;
    }

    static Tensor Pixels(int batch = 2, long seed = 5) =>
        randn([batch, 3, 28, 28], generator: new Generator((ulong)seed));

    /// <summary>
    /// Independent oracle: HF's CLIP vision forward written with plain functional ops over the state dict
    /// (conv patchify, CLS, positions, pre_layrnorm, pre-norm layers with explicit softmax attention).
    /// Returns all hidden states, entry 0 = after pre_layrnorm.
    /// </summary>
    static List<Tensor> ReferenceHiddenStates(Dictionary<string, Tensor> sd, ClipVisionDims d, Tensor pixels)
    {
        Tensor W(string key) => sd["vision_model." + key];
        Tensor Ln(Tensor x, string key) => nn.functional.layer_norm(x, [d.Hidden], W(key + ".weight"), W(key + ".bias"), d.LayerNormEps);
        Tensor Lin(Tensor x, string key) => matmul(x, W(key + ".weight").t()) + W(key + ".bias");

        var patches = nn.functional.conv2d(pixels, W("embeddings.patch_embedding.weight"), strides: [d.PatchSize, d.PatchSize]);
        long b = pixels.shape[0];
        var seq = patches.reshape(b, d.Hidden, d.NumPatches).permute(0, 2, 1);
        var cls = W("embeddings.class_embedding").reshape(1, 1, d.Hidden).repeat(b, 1, 1);
        var h = cat([cls, seq], 1) + W("embeddings.position_embedding.weight");
        h = Ln(h, "pre_layrnorm");
        var states = new List<Tensor> { h };
        for (int i = 0; i < d.Layers; i++)
        {
            string p = $"encoder.layers.{i}.";
            var a = Ln(h, p + "layer_norm1");
            Tensor Heads(Tensor t) => t.reshape(b, -1, d.Heads, d.HeadDim).permute(0, 2, 1, 3);
            var q = Heads(Lin(a, p + "self_attn.q_proj"));
            var k = Heads(Lin(a, p + "self_attn.k_proj"));
            var v = Heads(Lin(a, p + "self_attn.v_proj"));
            var probs = (matmul(q, k.transpose(2, 3)) / Math.Sqrt(d.HeadDim)).softmax(-1);
            var ctx = matmul(probs, v).permute(0, 2, 1, 3).reshape(b, -1, d.Hidden);
            h = h + Lin(ctx, p + "self_attn.out_proj");
            var m = Lin(Ln(h, p + "layer_norm2"), p + "mlp.fc1");
            m = d.HiddenAct == ClipHiddenAct.QuickGelu ? m * sigmoid(1.702 * m) : 0.5 * m * (1 + special.erf(m / Math.Sqrt(2)));
            h = h + Lin(m, p + "mlp.fc2");
            states.Add(h);
        }
        return states;
    }

    [Test]
    public void StateDictKeysAreHfNamesForTwoLayers()
    {
        var tower = new ClipVisionTower(ClipVisionDims.Tiny with { Layers = 2 });
        var expected = new List<string>
        {
            "vision_model.embeddings.class_embedding",
            "vision_model.embeddings.patch_embedding.weight",
            "vision_model.embeddings.position_embedding.weight",
            "vision_model.pre_layrnorm.weight",
            "vision_model.pre_layrnorm.bias",
        };
        for (int i = 0; i < 2; i++)
            expected.AddRange(new[]
            {
                "layer_norm1.weight", "layer_norm1.bias",
                "self_attn.q_proj.weight", "self_attn.q_proj.bias", "self_attn.k_proj.weight", "self_attn.k_proj.bias",
                "self_attn.v_proj.weight", "self_attn.v_proj.bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
                "layer_norm2.weight", "layer_norm2.bias",
                "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias",
            }.Select(s => $"vision_model.encoder.layers.{i}.{s}"));
        expected.AddRange(["vision_model.post_layernorm.weight", "vision_model.post_layernorm.bias"]);

        var actual = tower.state_dict().Keys.ToList();
        Assert.That(actual, Is.EquivalentTo(expected), "keys: " + string.Join(", ", actual));
    }

    [Test]
    public void ParameterShapesFollowTheDims()
    {
        var d = ClipVisionDims.Tiny;
        var sd = new ClipVisionTower(d).state_dict();
        Assert.That(sd["vision_model.embeddings.class_embedding"].shape, Is.EqualTo(new long[] { 32 }));
        Assert.That(sd["vision_model.embeddings.patch_embedding.weight"].shape, Is.EqualTo(new long[] { 32, 3, 4, 4 }));
        Assert.That(sd["vision_model.embeddings.position_embedding.weight"].shape, Is.EqualTo(new long[] { 50, 32 }));
        Assert.That(sd["vision_model.encoder.layers.2.mlp.fc1.weight"].shape, Is.EqualTo(new long[] { 64, 32 }));
        Assert.That(sd["vision_model.encoder.layers.2.mlp.fc2.weight"].shape, Is.EqualTo(new long[] { 32, 64 }));
        long count = sd.Values.Sum(t => t.numel());
        Assert.That(count, Is.EqualTo(28_928), "llava.md §10.1 parameter count");
    }

    [Test]
    public void ClipL14At336BuildsOnMetaWithTheKnownParameterCount()
    {
        // 303,507,456 = CLIP ViT-L/14-336 vision model: embeddings 1,193,984 + 2 LayerNorms 4,096 + 24 × 12,596,224.
        var tower = new ClipVisionTower(ClipVisionDims.ClipL14At336, device: new Device(DeviceType.META));
        var sd = tower.state_dict();
        Assert.That(sd.Values.Sum(t => t.numel()), Is.EqualTo(303_507_456L));
        Assert.That(sd["vision_model.embeddings.position_embedding.weight"].shape, Is.EqualTo(new long[] { 577, 1024 }));
        Assert.That(sd["vision_model.embeddings.patch_embedding.weight"].shape, Is.EqualTo(new long[] { 1024, 3, 14, 14 }));
        Assert.That(sd.Keys.Count(k => k.EndsWith(".self_attn.q_proj.weight")), Is.EqualTo(24));
        Assert.That(tower.LayersToRun, Is.EqualTo(23), "−2 runs layers 0..22");
    }

    [TestCase(ClipHiddenAct.QuickGelu)]
    [TestCase(ClipHiddenAct.Gelu)]
    public void AllHiddenStatesMatchTheFunctionalReference(ClipHiddenAct act)
    {
        var dims = ClipVisionDims.Tiny with { HiddenAct = act };
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var tower = RandomTower(dims: dims);
        var pixels = Pixels();
        var reference = ReferenceHiddenStates(tower.state_dict(), dims, pixels);
        var states = tower.HiddenStates(pixels);
        Assert.That(states, Has.Count.EqualTo(4));
        for (int i = 0; i < 4; i++)
            TensorAssert.Close(states[i], reference[i], atol: 1e-5, rtol: 1e-5, what: $"hidden_states[{i}]");
    }

    [Test]
    public void SdpaEqualsEager()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var tower = RandomTower(new ClipFeatureSelection(-1, ClipFeatureStrategy.Full));
        var pixels = Pixels();
        tower.AttentionImplementation = AttentionImplementation.Eager;
        var eager = tower.forward(pixels);
        tower.AttentionImplementation = AttentionImplementation.Sdpa;
        var sdpa = tower.forward(pixels);
        TensorAssert.Close(sdpa, eager, atol: 1e-5, rtol: 1e-5, what: "SDPA vs eager, all 3 layers");
    }

    [Test]
    public void LayerMinusTwoIsTheOutputOfTheSecondOfThreeLayersWithoutCls()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var tower = RandomTower();            // default selection: −2, CLS dropped
        var pixels = Pixels();
        var reference = ReferenceHiddenStates(tower.state_dict(), tower.Dims, pixels);

        var features = tower.forward(pixels);

        Assert.That(tower.ResolveHiddenStateIndex(-2), Is.EqualTo(2));
        Assert.That(tower.LayersToRun, Is.EqualTo(2));
        Assert.That(features.shape, Is.EqualTo(new long[] { 2, 49, 32 }));
        TensorAssert.Close(features, reference[2].narrow(1, 1, 49), atol: 1e-5, rtol: 1e-5, what: "features vs hidden_states[2][:, 1:]");
        Assert.That((features - reference[3].narrow(1, 1, 49)).abs().max().item<float>(), Is.GreaterThan(1e-2f),
            "the last layer's output must differ, or this test could not tell −1 from −2");
    }

    [Test]
    public void TheLastLayerNeverRunsForMinusTwo()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var tower = RandomTower();
        var pixels = Pixels();
        var before = tower.forward(pixels);
        foreach (var (name, p) in tower.named_parameters())
            if (name.StartsWith("vision_model.encoder.layers.2.") || name.StartsWith("vision_model.post_layernorm."))
                p.fill_(float.NaN);
        var after = tower.forward(pixels);
        TensorAssert.Equal(after, before, "features with layer 2 and post_layernorm poisoned by NaN");
    }

    [Test]
    public void FullStrategyKeepsClsAtPositionZero()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var pixels = Pixels();
        var full = RandomTower(new ClipFeatureSelection(-2, ClipFeatureStrategy.Full)).forward(pixels);
        var dropped = RandomTower().forward(pixels);
        Assert.That(full.shape, Is.EqualTo(new long[] { 2, 50, 32 }));
        TensorAssert.Equal(full.narrow(1, 1, 49).contiguous(), dropped, "Full[:, 1:] == Default");
    }

    [Test]
    public void SeveralLayersConcatenateAlongChannels()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var tower = RandomTower(new ClipFeatureSelection([-1, 0]));
        var pixels = Pixels();
        var reference = ReferenceHiddenStates(tower.state_dict(), tower.Dims, pixels);
        var features = tower.forward(pixels);
        Assert.That(features.shape, Is.EqualTo(new long[] { 2, 49, 64 }));
        TensorAssert.Close(features.narrow(2, 0, 32), reference[3].narrow(1, 1, 49), atol: 1e-5, rtol: 1e-5, what: "first block = layer −1");
        TensorAssert.Close(features.narrow(2, 32, 32), reference[0].narrow(1, 1, 49), atol: 1e-5, rtol: 1e-5, what: "second block = embeddings");
    }

    [Test]
    public void ClsAttentionIsTheEagerAttentionRowOfThatLayer()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var tower = RandomTower();
        var d = tower.Dims;
        var pixels = Pixels();
        var sd = tower.state_dict();
        var reference = ReferenceHiddenStates(sd, d, pixels);

        // Layer 1's probabilities by hand from its input hidden_states[1].
        string p = "vision_model.encoder.layers.1.";
        var a = nn.functional.layer_norm(reference[1], [d.Hidden], sd[p + "layer_norm1.weight"], sd[p + "layer_norm1.bias"], d.LayerNormEps);
        var q = (matmul(a, sd[p + "self_attn.q_proj.weight"].t()) + sd[p + "self_attn.q_proj.bias"]).reshape(2, 50, 4, 8).permute(0, 2, 1, 3);
        var k = (matmul(a, sd[p + "self_attn.k_proj.weight"].t()) + sd[p + "self_attn.k_proj.bias"]).reshape(2, 50, 4, 8).permute(0, 2, 1, 3);
        var expected = (matmul(q, k.transpose(2, 3)) / Math.Sqrt(8)).softmax(-1).select(2, 0);   // [B, H, L]

        var direct = tower.ClsAttention(pixels, 1);
        var encoded = tower.Encode(pixels, withClsAttention: true, withKeys: true);

        TensorAssert.Close(direct, expected, atol: 1e-6, rtol: 1e-5, what: "ClsAttention(layer 1)");
        TensorAssert.Close(encoded.ClsAttention!, expected, atol: 1e-6, rtol: 1e-5, what: "Encode CLS attention (layer −2 → layer 1)");
        TensorAssert.Close(encoded.Keys!, k, atol: 1e-5, rtol: 1e-5, what: "Encode keys of layer 1");
        TensorAssert.Close(direct.sum(-1), ones(2, 4), atol: 1e-5, rtol: 0, what: "rows sum to 1");
    }

    [Test]
    public void WrongPixelShapeIsRefusedWithTheShape()
    {
        var tower = new ClipVisionTower(ClipVisionDims.Tiny);
        using var scope = NewDisposeScope();
        Assert.That(() => tower.forward(zeros(1, 3, 32, 32)),
            Throws.ArgumentException.With.Message.Contains("[B, 3, 28, 28]").And.Message.Contains("[1, 3, 32, 32]"));
    }

    [TestCase(-5)]
    [TestCase(4)]
    public void OutOfRangeFeatureLayerIsRefused(int layer)
    {
        Assert.That(() => new ClipVisionTower(ClipVisionDims.Tiny, new ClipFeatureSelection(layer)),
            Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains($"vision_feature_layer {layer}"));
    }

    [Test, NonParallelizable]
    public void EncodeLeaksNoTensors()
    {
        var tower = RandomTower();
        using var pixels = Pixels(1);
        NativeMemory.AssertNoGrowth(() =>
        {
            using var _ = no_grad();
            var output = tower.Encode(pixels, withClsAttention: true, withKeys: true);
            output.Features.Dispose();
            output.ClsAttention!.Dispose();
            output.Keys!.Dispose();
        }, repeats: 3, what: "ClipVisionTower.Encode");
    }
}
