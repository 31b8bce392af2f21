using PioFvlm.Core.Nn;
using PioFvlm.Models.Text.Llama;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Models;

public sealed class LlamaForCausalLMTests
{
    static double Tol(ScalarType t) => t == ScalarType.Float64 ? 1e-10 : 1e-5;

    /// <summary>Logits of a plain forward over the whole sequence, no cache: the recompute oracle.</summary>
    static Tensor FullLogits(LlamaForCausalLM lm, Tensor ids) =>
        lm.forward(new TextModelInput(lm.Embed(ids), TinyLlama.Positions(0, ids.shape[1])));

    [Test]
    public void StateDictKeys_EqualHfNames_TwoLayers()
    {
        using var lm = TinyLlama.Create(TinyLlama.Gqa);
        var expected = new List<string> { "model.embed_tokens.weight" };
        for (int j = 0; j < 2; j++)
        {
            expected.AddRange(new[]
            {
                $"model.layers.{j}.self_attn.q_proj.weight", $"model.layers.{j}.self_attn.k_proj.weight",
                $"model.layers.{j}.self_attn.v_proj.weight", $"model.layers.{j}.self_attn.o_proj.weight",
                $"model.layers.{j}.mlp.gate_proj.weight", $"model.layers.{j}.mlp.up_proj.weight",
                $"model.layers.{j}.mlp.down_proj.weight",
                $"model.layers.{j}.input_layernorm.weight", $"model.layers.{j}.post_attention_layernorm.weight",
            });
        }
        expected.AddRange(new[] { "model.norm.weight", "lm_head.weight" });
        var sd = lm.state_dict();
        Assert.That(sd.Keys, Is.EquivalentTo(expected));
        Assert.That(sd["model.layers.1.self_attn.k_proj.weight"].shape, Is.EqualTo(new long[] { 16, 32 }), "GQA k_proj is [kv*headDim, hidden]");
        Assert.That(sd["lm_head.weight"].shape, Is.EqualTo(new long[] { 64, 32 }));
    }

    [Test]
    public void TiedEmbeddings_ShareOneTensor()
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        using var lm = TinyLlama.Create(TinyLlama.Mha with { TieWordEmbeddings = true });
        // Like PyTorch, state_dict lists both names for the one shared tensor (a tied checkpoint stores only
        // model.embed_tokens.weight, so a strict loader must treat lm_head.weight as satisfied by it).
        var sd = lm.state_dict();
        Assert.That(sd.Keys, Does.Contain("lm_head.weight").And.Contain("model.embed_tokens.weight"));
        var before = lm.LmHead.weight!.clone();
        sd["model.embed_tokens.weight"].mul_(2);
        TensorAssert.Equal(lm.LmHead.weight!, before * 2, "writing embed_tokens writes lm_head");
    }

    [TestCase(ScalarType.Float32, false)]
    [TestCase(ScalarType.Float32, true)]
    [TestCase(ScalarType.Float64, true)]
    public void CachedDecode_EqualsFullRecompute(ScalarType dtype, bool gqa)
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        using var lm = TinyLlama.Create(gqa ? TinyLlama.Gqa : TinyLlama.Mha, dtype);
        manual_seed(21);
        var ids = randint(0, 64, [1, 10]);
        var full = FullLogits(lm, ids);                                      // [1, 10, V]

        using var cache = KvCache.For(lm.Dims, 1, 16, dtype);
        var prefill = lm.Step(ids.narrow(1, 0, 6), 0, cache);
        TensorAssert.Close(prefill, full.narrow(1, 5, 1), Tol(dtype), Tol(dtype), "prefill last logits");
        for (int step = 0; step < 4; step++)
        {
            long pos = 6 + step;
            var logits = lm.Step(ids.narrow(1, pos, 1), pos, cache);
            TensorAssert.Close(logits, full.narrow(1, pos, 1), Tol(dtype), Tol(dtype), $"decode step {step}");
        }
        Assert.That(cache.Lengths, Is.EqualTo(new long[] { 10, 10 }));
    }

    [TestCase(AttentionKernel.Sdpa)]
    [TestCase(AttentionKernel.Eager)]
    public void ChunkedPrefill_EqualsFullRecompute(AttentionKernel kernel)
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        using var lm = TinyLlama.Create(TinyLlama.Gqa);
        manual_seed(22);
        var ids = randint(0, 64, [2, 9]);
        var full = FullLogits(lm, ids);
        lm.Kernel = kernel;
        using var cache = KvCache.For(lm.Dims, 2, 9, ScalarType.Float32);
        var first = lm.Step(ids.narrow(1, 0, 4), 0, cache, lastPositionOnly: false);
        var second = lm.Step(ids.narrow(1, 4, 5), 4, cache, lastPositionOnly: false);   // 5 queries over 9 keys
        TensorAssert.Close(cat([first, second], 1), full, 1e-5, 1e-5, $"chunked prefill ({kernel})");
    }

    [Test]
    public void SdpaModel_EqualsEagerModel()
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        using var lm = TinyLlama.Create(TinyLlama.Gqa);
        manual_seed(23);
        var ids = randint(0, 64, [2, 7]);
        var sdpa = FullLogits(lm, ids);
        lm.Kernel = AttentionKernel.Eager;
        Assert.That(lm.Model.Layers[1].SelfAttention.Kernel, Is.EqualTo(AttentionKernel.Eager));
        TensorAssert.Close(sdpa, FullLogits(lm, ids), 1e-5, 1e-5, "SDPA vs eager logits");
    }

    [Test]
    public void RunLayersInRanges_EqualsForward_AndLastOnlyLogitsAreTheLastRow()
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        using var lm = TinyLlama.Create(TinyLlama.Mha);
        manual_seed(24);
        var ids = randint(0, 64, [1, 8]);
        var positions = TinyLlama.Positions(0, 8);
        var embeds = lm.Embed(ids);
        var h1 = lm.RunLayers(embeds, positions, null, 0, 1);
        var h2 = lm.RunLayers(h1, positions, null, 1, 2);
        var full = FullLogits(lm, ids);
        TensorAssert.Equal(lm.Logits(h2), full, "layer ranges vs forward");
        // Not bitwise: lm_head's matmul over 1 row and over 8 rows may block the sums differently.
        TensorAssert.Close(lm.Logits(h2, lastPositionOnly: true), full.narrow(1, 7, 1), 1e-5, 1e-5, "last-position logits");
        TensorAssert.Equal(lm.RunLayers(embeds, positions, null, 1, 1), embeds, "empty range is the identity");
        TensorAssert.Close(lm.Model.forward(new TextModelInput(embeds, positions)), lm.Model.Norm(h2), 0, 0, "LlamaModel.forward = norm(last hidden)");
        Assert.Throws<ArgumentOutOfRangeException>(() => lm.RunLayers(embeds, positions, null, 1, 3));
    }

    [Test]
    public void PruneBetweenLayers_CacheGatherAndDecode_MatchNoCacheOracle()
    {
        // Two layers, prune between layer 0 and layer 1 keeping original positions: layer 0 caches all 8
        // prompt tokens, layer 1 only the kept ones. Layer 1 is the last layer, so its K/V for a kept token depend
        // only on that token's layer-1 input, which lets three routes be compared.
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        using var lm = TinyLlama.Create(TinyLlama.Gqa);
        manual_seed(25);
        var ids = randint(0, 64, [1, 9]);          // 8 prompt tokens + 1 decoded token
        long[] keep = [0, 1, 4, 6, 7];
        var keepIdx = tensor(keep);

        // Oracle, no cache: layer 0 over all 9 tokens, then layer 1 over kept + new at their original positions.
        var h0 = lm.RunLayers(lm.Embed(ids), TinyLlama.Positions(0, 9), null, 0, 1);
        var keptAndNew = tensor(keep.Append(8).ToArray());
        var h1 = lm.RunLayers(h0.index_select(1, keptAndNew), keptAndNew.unsqueeze(0), null, 1, 2);
        var expected = lm.Logits(h1, lastPositionOnly: true);

        // Route A: full cached prefill, then gather layer 1's cache.
        using var cacheA = KvCache.For(lm.Dims, 1, 16, ScalarType.Float32);
        lm.Step(ids.narrow(1, 0, 8), 0, cacheA);
        cacheA.Gather(1, keepIdx);
        Assert.That(cacheA.Lengths, Is.EqualTo(new long[] { 8, 5 }));
        TensorAssert.Close(lm.Step(ids.narrow(1, 8, 1), 8, cacheA), expected, 1e-5, 1e-5, "gather after prefill");

        // Route B: prefill layer 0, cut the sequence, prefill layer 1 on the kept rows (how the pruning engine runs).
        using var cacheB = KvCache.For(lm.Dims, 1, 16, ScalarType.Float32);
        var p0 = lm.RunLayers(lm.Embed(ids.narrow(1, 0, 8)), TinyLlama.Positions(0, 8), cacheB, 0, 1);
        lm.RunLayers(p0.index_select(1, keepIdx), keepIdx.unsqueeze(0), cacheB, 1, 2);
        Assert.That(cacheB.Lengths, Is.EqualTo(new long[] { 8, 5 }));
        TensorAssert.Close(lm.Step(ids.narrow(1, 8, 1), 8, cacheB), expected, 1e-5, 1e-5, "prune between layers");
    }

    [Test]
    public void GradientFlowsToInputEmbeddingsWithoutCache()
    {
        // The saliency probe runs a layer under enable_grad on a detached leaf; nothing in the model may block it.
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        using var lm = TinyLlama.Create(TinyLlama.Mha);
        var x = lm.Embed(randint(0, 64, [1, 5])).detach();
        using var eg = enable_grad();
        x.requires_grad_(true);
        var y = lm.Logits(lm.RunLayers(x, TinyLlama.Positions(0, 5), null, 1, 2), lastPositionOnly: true);
        var g = autograd.grad([y.sum()], [x])[0];
        Assert.That(g.shape, Is.EqualTo(x.shape));
        Assert.That(g.abs().sum().item<float>(), Is.GreaterThan(0f));
        Assert.That(g.isfinite().all().item<bool>(), Is.True);
    }

    [Test]
    public void ModelBuiltInsideADisposeScope_OutlivesIt()
    {
        using var ng = no_grad();
        LlamaForCausalLM lm;
        using (NewDisposeScope())
            lm = TinyLlama.Create(TinyLlama.Mha);
        using (lm)
        using (NewDisposeScope())
        {
            var logits = lm.Step(tensor(new long[] { 1, 2, 3 }, [1, 3]), 0, null);
            Assert.That(logits.isfinite().all().item<bool>(), Is.True);
        }
    }

    [Test]
    public void TextModelInputWithWrongWidth_Throws()
    {
        using var _ = NewDisposeScope();
        using var lm = TinyLlama.Create(TinyLlama.Mha);
        var ex = Assert.Throws<ArgumentException>(() => lm.forward(new TextModelInput(zeros(1, 3, 16), TinyLlama.Positions(0, 3))));
        Assert.That(ex!.Message, Does.Contain("[B, S, 32]").And.Contain("[1, 3, 16]"));
    }
}
