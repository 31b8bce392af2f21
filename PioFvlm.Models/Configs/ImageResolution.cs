namespace PioFvlm.Models.Configs;

/// <summary>An anyres candidate resolution in pixels. Stored as (Height, Width) whatever the layout: HF reads
/// <c>image_grid_pinpoints</c> entries as [H, W], the research code as [W, H], and the parser undoes the difference.</summary>
public readonly record struct ImageResolution(int Height, int Width);
