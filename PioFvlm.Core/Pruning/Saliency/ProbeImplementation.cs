namespace PioFvlm.Core.Pruning.Saliency;

/// <summary>How the probe layer and head are evaluated. Both give the same gradient up to rounding.</summary>
public enum ProbeImplementation
{
    /// <summary>K and V of the probe layer for every position; queries, attention rows, o_proj, MLP, norm and head only
    /// for the supervised window (spec §2.5 "exactly-equivalent cheaper probe"). The gradient still reaches every
    /// position through K and V.</summary>
    Cheap,

    /// <summary>The probe layer's own forward on the whole sequence and the head on every position, then the window is
    /// taken: what the reference does. Kept for reference and ablation.</summary>
    Full,
}
