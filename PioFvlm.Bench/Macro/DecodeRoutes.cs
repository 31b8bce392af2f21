namespace PioFvlm.Bench.Macro;

/// <summary>The two decode routes the report compares, alternating on the same cache: libtorch's defaults (oneDNN
/// products, SDPA attention: <c>PIOFVLM_DECODE_GEMV=onednn</c>) and the decode kernels (<c>OneRowGemv</c> scope: ATen's
/// gemv, <c>LongRowGemv</c> for the down projection, fp32 one-query attention).</summary>
static class DecodeRoutes
{
    public static readonly (string Name, bool Gemv)[] All =
        [(Name: "libtorch defaults (before)", Gemv: false), (Name: "decode kernels (after)", Gemv: true)];
}
