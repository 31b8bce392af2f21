using PioFvlm.Core.Nn;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Nn;

public sealed class AttentionTests
{
    static DecoderDims Dims(int kvHeads) => new(HiddenSize: 16, NumHeads: 4, NumKvHeads: kvHeads, HeadDim: 4,
        IntermediateSize: 24, NumLayers: 1, RmsNormEps: 1e-5, RopeTheta: 10000, VocabSize: 32, MaxPositions: 64,
        TieWordEmbeddings: false, AttentionBias: false);

    [TestCase(6, 6, 4, TestName = "Attend_SdpaEqualsEager_FullCausal")]
    [TestCase(1, 7, 4, TestName = "Attend_SdpaEqualsEager_DecodeOneQuery")]
    [TestCase(3, 7, 4, TestName = "Attend_SdpaEqualsEager_ChunkShorterThanKeys")]
    [TestCase(6, 6, 2, TestName = "Attend_SdpaEqualsEager_GqaFull")]
    [TestCase(3, 7, 2, TestName = "Attend_SdpaEqualsEager_GqaChunk")]
    [TestCase(1, 7, 2, TestName = "Attend_SdpaEqualsEager_GqaDecode")]
    [TestCase(1, 7, 1, TestName = "Attend_SdpaEqualsEager_MqaDecode")]
    public void Attend_SdpaEqualsEager(int queries, int keys, int kvHeads)
    {
        using var _ = NewDisposeScope();
        manual_seed(10);
        var q = randn([2, 4, queries, 8]);
        var k = randn([2, kvHeads, keys, 8]);
        var v = randn([2, kvHeads, keys, 8]);
        var sdpa = Attention.Attend(q, k, v, AttentionKernel.Sdpa);
        var eager = Attention.Attend(q, k, v, AttentionKernel.Eager);
        Assert.That(sdpa.shape, Is.EqualTo(new long[] { 2, 4, queries, 8 }));
        TensorAssert.Close(sdpa, eager, 1e-5, 1e-5, $"SDPA vs eager, L={queries}, T={keys}, kv={kvHeads}");
    }

    [TestCase(AttentionKernel.Sdpa)]
    [TestCase(AttentionKernel.Eager)]
    public void Attend_ShortQueriesAreTheLastRowsOfTheFullCausalResult(AttentionKernel kernel)
    {
        // The full L == T case uses libtorch's own causal flag (SDPA), so this checks the bottom-right mask
        // against an implementation that does not share its code.
        using var _ = NewDisposeScope();
        manual_seed(11);
        var q = randn([1, 4, 7, 8]);
        var k = randn([1, 2, 7, 8]);
        var v = randn([1, 2, 7, 8]);
        var full = Attention.Attend(q, k, v, AttentionKernel.Sdpa);
        var tail = Attention.Attend(q.narrow(2, 4, 3), k, v, kernel);
        TensorAssert.Close(tail, full.narrow(2, 4, 3), 1e-5, 1e-5, $"last 3 queries ({kernel})");
    }

    [Test]
    public void Attend_EagerMatchesBruteForceLoops()
    {
        using var _ = NewDisposeScope();
        manual_seed(12);
        var q = randn([1, 2, 2, 3], dtype: ScalarType.Float64);
        var k = randn([1, 1, 4, 3], dtype: ScalarType.Float64);
        var v = randn([1, 1, 4, 3], dtype: ScalarType.Float64);
        var expected = zeros([1, 2, 2, 3], dtype: ScalarType.Float64);
        for (int h = 0; h < 2; h++)
            for (int i = 0; i < 2; i++)
            {
                int visible = 4 - 2 + i + 1;   // query i is position 2 + i of 4
                var w = new double[visible];
                for (int j = 0; j < visible; j++)
                    w[j] = Math.Exp((q[0, h, i] * k[0, 0, j]).sum().item<double>() / Math.Sqrt(3));
                double z = w.Sum();
                for (int j = 0; j < visible; j++)
                    expected[0, h, i].add_(v[0, 0, j] * (w[j] / z));
            }
        TensorAssert.Close(Attention.Attend(q, k, v, AttentionKernel.Eager), expected, 1e-12, 1e-12, "eager vs loops");
    }

    [Test]
    public void Attend_RejectsMoreQueriesThanKeys()
    {
        using var _ = NewDisposeScope();
        var ex = Assert.Throws<ArgumentException>(() => Attention.Attend(zeros(1, 2, 5, 4), zeros(1, 2, 3, 4), zeros(1, 2, 3, 4), AttentionKernel.Sdpa));
        Assert.That(ex!.Message, Does.Contain("5 queries").And.Contain("3 keys"));
    }

    [Test]
    public void Gqa_EqualsMhaWithDuplicatedKvWeights()
    {
        using var _ = NewDisposeScope();
        using var ng = no_grad();
        manual_seed(13);
        using var gqa = new Attention("self_attn", Dims(kvHeads: 2), 0);
        using var mha = new Attention("self_attn", Dims(kvHeads: 4), 0) { Kernel = AttentionKernel.Eager };
        Assert.That(gqa.KProj.weight!.shape, Is.EqualTo(new long[] { 8, 16 }));
        mha.QProj.weight!.copy_(gqa.QProj.weight!);
        mha.OProj.weight!.copy_(gqa.OProj.weight!);
        // Query head h reads kv head h / 2: MHA kv head h gets GQA kv head h / 2's rows (head_dim 4 rows each).
        Tensor Duplicate(Tensor w) => cat(Enumerable.Range(0, 4).Select(h => w.narrow(0, (h / 2) * 4, 4)).ToArray(), 0);
        mha.KProj.weight!.copy_(Duplicate(gqa.KProj.weight!));
        mha.VProj.weight!.copy_(Duplicate(gqa.VProj.weight!));

        var x = randn([2, 5, 16]);
        var rope = new RotaryEmbedding(4, 10000).Tables(arange(5L).unsqueeze(0), ScalarType.Float32);
        var expected = mha.forward(new AttentionInput(x, rope));
        TensorAssert.Close(gqa.forward(new AttentionInput(x, rope)), expected, 1e-5, 1e-5, "GQA vs duplicated MHA");
    }

    [Test]
    public void Attention_StateDictNames()
    {
        using var attn = new Attention("self_attn", Dims(kvHeads: 2) with { AttentionBias = true }, 0);
        Assert.That(attn.state_dict().Keys, Is.EquivalentTo(new[]
        {
            "q_proj.weight", "q_proj.bias", "k_proj.weight", "k_proj.bias",
            "v_proj.weight", "v_proj.bias", "o_proj.weight", "o_proj.bias",
        }));
    }
}
