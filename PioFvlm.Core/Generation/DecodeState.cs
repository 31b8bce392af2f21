using PioFvlm.Core.Nn;
using static TorchSharp.torch;

namespace PioFvlm.Core.Generation;

/// <summary>Where the next decode token sits, per layer, given the position policy used at prefill.</summary>
public sealed class DecodeState
{
    public PositionPolicy Policy { get; }
    /// <summary>Rows of the position ids (1 for 1-D RoPE, 3 for M-RoPE).</summary>
    public int PositionRows { get; }
    /// <summary>For KeepOriginal: the position of the next token (all layers, all rows).</summary>
    public long NextOriginalPosition { get; private set; }

    public DecodeState(PositionPolicy policy, int positionRows, long nextOriginalPosition)
    {
        Policy = policy;
        PositionRows = positionRows;
        NextOriginalPosition = nextOriginalPosition;
    }

    /// <summary>The position the next token takes in <paramref name="layer"/>.</summary>
    public long PositionFor(int layer, KvCache cache) =>
        Policy == PositionPolicy.Compact ? cache.LengthOf(layer) : NextOriginalPosition;

    /// <summary>Called after each decode step.</summary>
    public void Advance() => NextOriginalPosition++;

    /// <summary>Position ids [R, 1] for one new token at <paramref name="position"/>.</summary>
    public Tensor PositionIds(long position, Device device) =>
        full(new long[] { PositionRows, 1 }, position, ScalarType.Int64, device);
}
