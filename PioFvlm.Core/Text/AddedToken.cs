namespace PioFvlm.Core.Text;

/// <summary>
/// A token matched in raw text before the vocabulary model runs (HF "added_tokens": &lt;s&gt;, &lt;/s&gt;, &lt;image&gt;, &lt;pad&gt; ...).
/// <paramref name="LStrip"/>/<paramref name="RStrip"/> let the match swallow whitespace on that side, as HF does.
/// </summary>
public sealed record AddedToken(int Id, string Content, bool Special, bool LStrip = false, bool RStrip = false);
