using PioFvlm.Core.IO.TorchPickle;
using PioFvlm.Tests.TestSupport;
using static TorchSharp.torch;

namespace PioFvlm.Tests.Loading;

/// <summary>
/// Reading fixtures made without our writer (scripts/make_torchbin_fixtures.py): a pickle written opcode by opcode,
/// and CPython's own protocol 2 pickler run on stand-ins that carry torch's names. Expected values are the ones
/// the script stores, written down here by hand.
/// </summary>
public sealed class TorchBinFixtureTests
{
    [Test]
    public void HandWrittenPickle_TwoFloats()
    {
        using var source = new TorchBinSource(TorchBinFiles.Fixture("hand_float2.bin"));
        Assert.That(source.Entries.Keys, Is.EqualTo(new[] { "w" }));
        Assert.That(source.Entries["w"].DType, Is.EqualTo(ScalarType.Float32));
        Assert.That(source.Entries["w"].Shape, Is.EqualTo(new long[] { 2 }));
        using var w = source.Load("w");
        TensorAssert.Equal(w, tensor(new[] { 1.5f, -2.0f }), "w");
    }

    [Test]
    public void CPythonPickledStateDict_AllShapesAndDTypes()
    {
        using var source = new TorchBinSource(TorchBinFiles.Fixture("cpython_state_dict.bin"));
        Assert.That(source.Entries.Keys, Is.EquivalentTo(new[]
        {
            "linear.weight", "linear.bias", "emb.weight", "counts", "mask", "shared.a", "shared.b", "transposed",
            "param", "scalar", "conv.weight",
        }));
        Assert.That(source.SkippedKeys, Is.Empty);
        using var scope = NewDisposeScope();

        TensorAssert.Equal(source.Load("linear.weight"), tensor(new[] { -1f, -0.5f, 0f, 0.5f, 1f, 1.5f }).reshape(2, 3), "linear.weight");
        TensorAssert.Equal(source.Load("linear.bias"), tensor(new[] { 0.25f, -4f, 1024f }).to_type(ScalarType.Float16), "linear.bias");
        TensorAssert.Equal(source.Load("emb.weight"), tensor(new[] { 1f, -2.5f }).to_type(ScalarType.BFloat16), "emb.weight");
        TensorAssert.Equal(source.Load("counts"), tensor(new[] { 7L, -3L, 1L << 40 }), "counts");
        TensorAssert.Equal(source.Load("mask"), tensor(new[] { true, false, true }), "mask");
        TensorAssert.Equal(source.Load("shared.a"), tensor(new[] { 10f, 11f }), "shared.a");
        TensorAssert.Equal(source.Load("shared.b"), tensor(new[] { 13f, 14f, 15f }), "shared.b");
        TensorAssert.Equal(source.Load("transposed"), tensor(new[] { 1f, 4f, 2f, 5f, 3f, 6f }).reshape(3, 2), "transposed");
        TensorAssert.Equal(source.Load("param"), tensor(new[] { 3f }), "param");
        TensorAssert.Equal(source.Load("scalar"), tensor(42f), "scalar");
        TensorAssert.Equal(source.Load("conv.weight"), tensor(new[] { 1f, 2f, 3f, 4f }).reshape(1, 2, 1, 2), "conv.weight");
        Assert.That(source.Entries["conv.weight"].Shape, Is.EqualTo(new long[] { 1, 2, 1, 2 }));
        Assert.That(source.Entries["scalar"].Shape, Is.Empty);
    }

    [Test]
    public void NestedCheckpoint_UsesStateDictAndListsTheRest()
    {
        using var source = new TorchBinSource(TorchBinFiles.Fixture("cpython_checkpoint_nested.bin"));
        Assert.That(source.Entries.Keys, Is.EqualTo(new[] { "w" }));
        Assert.That(source.SkippedKeys, Is.EqualTo(new[] { "epoch", "best_acc", "args" }));
        using var w = source.Load("w");
        TensorAssert.Equal(w, tensor(new[] { 1f, 2f }), "w");
    }

    [Test]
    public void Load_ConvertsDType()
    {
        using var source = new TorchBinSource(TorchBinFiles.Fixture("hand_float2.bin"));
        using var w = source.Load("w", ScalarType.Float64);
        TensorAssert.Equal(w, tensor(new[] { 1.5, -2.0 }), "w as float64");
    }

    [Test]
    public void Load_UnknownName_NamesFileAndTensor()
    {
        using var source = new TorchBinSource(TorchBinFiles.Fixture("hand_float2.bin"));
        var e = Assert.Throws<KeyNotFoundException>(() => source.Load("nope"));
        Assert.That(e!.Message, Does.Contain("nope").And.Contain("hand_float2.bin"));
    }

    [Test, NonParallelizable]
    public void Load_LeavesNoLiveTensors()
    {
        using var source = new TorchBinSource(TorchBinFiles.Fixture("cpython_state_dict.bin"));
        NativeMemory.AssertNoGrowth(() =>
        {
            foreach (var name in source.Entries.Keys)
            {
                using var t = source.Load(name, ScalarType.Float32);
            }
        }, 3, "TorchBinSource.Load of every tensor");
    }
}
