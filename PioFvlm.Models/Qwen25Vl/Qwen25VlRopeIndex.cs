using static TorchSharp.torch;

namespace PioFvlm.Models.Qwen25Vl;

/// <summary>
/// The 3-row (t, h, w) M-RoPE position ids of one prompt (HF get_rope_index for images, spec A8): text tokens count
/// up on all three rows; an image's merged token at (frame f, row r, column c) sits at (s, s + r, s + c) with s the
/// next text position (images have no temporal interval); text after an image continues at the image's maximum + 1.
/// </summary>
public static class Qwen25VlRopeIndex
{
    /// <summary>Position ids [3, S] (int64) and rope_delta = max + 1 − S, for prompt ids with every image already expanded
    /// to its tokens (<see cref="Qwen25VlGrid.Tokens"/>).</summary>
    /// <exception cref="ArgumentException">The image tokens do not match the grids (count or run lengths).</exception>
    public static (long[][] Positions, long Delta) Compute(IReadOnlyList<int> tokenIds, int imageTokenId,
                                                           IReadOnlyList<Qwen25VlGrid> grids, int merge)
    {
        int s = tokenIds.Count;
        var rows = new[] { new long[s], new long[s], new long[s] };
        long next = 0;
        int image = 0;
        for (int i = 0; i < s;)
        {
            if (tokenIds[i] != imageTokenId)
            {
                rows[0][i] = rows[1][i] = rows[2][i] = next++;
                i++;
                continue;
            }
            if (image >= grids.Count)
                throw new ArgumentException($"the prompt has more image-token runs than the {grids.Count} image grid(s) (position {i})");
            var g = grids[image].Validate(merge);
            int hm = g.MergedHeight(merge), wm = g.MergedWidth(merge);
            long tokens = g.Tokens(merge);
            if (i + tokens > s || Enumerable.Range(i, (int)tokens).Any(j => tokenIds[j] != imageTokenId)
                || (i + tokens < s && tokenIds[i + (int)tokens] == imageTokenId))
                throw new ArgumentException($"image {image} (grid {g.T}×{g.H}×{g.W}) needs a run of exactly {tokens} image tokens at position {i}");
            long k = 0;
            for (int f = 0; f < g.T; f++)
                for (int r = 0; r < hm; r++)
                    for (int c = 0; c < wm; c++, k++)
                    {
                        rows[0][i + k] = next;
                        rows[1][i + k] = next + r;
                        rows[2][i + k] = next + c;
                    }
            next += Math.Max(1, Math.Max(hm, wm));
            i += (int)tokens;
            image++;
        }
        if (image != grids.Count)
            throw new ArgumentException($"{grids.Count} image grid(s) but the prompt has {image} image-token run(s)");
        return (rows, next - s);
    }

    /// <summary>The same as a tensor [3, S].</summary>
    public static Tensor Tensor(long[][] positions) =>
        stack(positions.Select(r => tensor(r)).ToArray(), 0);
}
