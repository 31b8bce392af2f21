namespace PioFvlm.Core.Nn;

/// <summary>How attention scores are turned into outputs.</summary>
public enum AttentionKernel
{
    /// <summary>libtorch's scaled_dot_product_attention (default).</summary>
    Sdpa,

    /// <summary><c>softmax(QKᵀ/√d + mask) V</c> written out, softmax in fp32 as HF eager; the test oracle.</summary>
    Eager,
}
