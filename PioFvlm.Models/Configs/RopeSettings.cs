namespace PioFvlm.Models.Configs;

/// <summary>RoPE settings read from either spelling: v4 <c>rope_theta</c> + <c>rope_scaling</c>, or v5
/// <c>rope_parameters: {rope_type, rope_theta, ...}</c>. Only plain RoPE is implemented by the models, so any
/// scaling type other than "default" (and Qwen's "mrope", which is default RoPE split into sections) is refused
/// here rather than silently producing wrong positions.</summary>
internal sealed record RopeSettings(double Theta, string Type, IReadOnlyList<int>? MropeSection)
{
    public static RopeSettings Read(ConfigReader r, double defaultTheta, bool allowMrope)
    {
        var parameters = r.Object("rope_parameters");
        var scaling = r.Object("rope_scaling");
        var holder = parameters ?? scaling;

        var theta = parameters != null && parameters.Has("rope_theta")
            ? parameters.Double("rope_theta", defaultTheta)
            : r.Double("rope_theta", defaultTheta);
        if (!(theta > 0)) throw r.Error(parameters != null && parameters.Has("rope_theta") ? "rope_parameters.rope_theta" : "rope_theta", $"must be positive, got {theta}");

        string type = "default";
        string typeKey = "rope_scaling.rope_type";
        if (holder != null)
        {
            var key = holder.Has("rope_type") ? "rope_type" : "type";
            type = holder.String(key, "default");
            typeKey = holder.At(key);
        }

        IReadOnlyList<int>? section = holder?.NullableIntList("mrope_section");
        var supported = allowMrope ? "default, mrope" : "default";
        var ok = type == "default" || (allowMrope && type == "mrope");
        if (!ok)
            throw new ConfigFormatException(r.File, typeKey,
                $"RoPE type '{type}' is not supported (supported: {supported}); the models implement plain RoPE only");
        if (section != null && !allowMrope)
            throw new ConfigFormatException(r.File, holder!.At("mrope_section"), "mrope_section is only meaningful for Qwen2.5-VL");
        return new RopeSettings(theta, type, section);
    }
}
