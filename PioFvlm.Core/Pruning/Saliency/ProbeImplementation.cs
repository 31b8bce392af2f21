namespace PioFvlm.Core.Pruning.Saliency;

/// <summary>How the probe layer and head are evaluated. All give the same gradient up to rounding.</summary>
public enum ProbeImplementation
{
    /// <summary>K of the probe layer for every position; queries, attention rows, o_proj, MLP, norm and head only for
    /// the supervised window (spec §2.5 "exactly-equivalent cheaper probe"), and the value projection folded behind the
    /// attention rows: (P X̂) W_vᵀ + b_v, never V for every position. The gradient still reaches every position through
    /// the keys and through P X̂.</summary>
    Cheap,

    /// <summary>The layer's own forward on the whole sequence and the head on every position, then the window is
    /// taken: what the reference does. Kept for reference and ablation.</summary>
    Full,

    /// <summary>As <see cref="Cheap"/>, but V projected for every position as the layer does (this project's cheap
    /// probe before the value fold): kept as a second oracle and for the before/after timing.</summary>
    CheapAllValues,
}
