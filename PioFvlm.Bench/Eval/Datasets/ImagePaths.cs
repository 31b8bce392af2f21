namespace PioFvlm.Bench.Eval.Datasets;

/// <summary>Resolves benchmark image names under an image folder, refusing names that climb out of it.</summary>
public static class ImagePaths
{
    public static string Resolve(string imageFolder, string image)
    {
        string root = Path.GetFullPath(imageFolder);
        string full = Path.GetFullPath(Path.Combine(root, image));
        string rootWithSep = Path.EndsInDirectorySeparator(root) ? root : root + Path.DirectorySeparatorChar;
        if (!full.StartsWith(rootWithSep, StringComparison.Ordinal))
            throw new FormatException($"image '{image}' resolves to {full}, outside the image folder {root}");
        return full;
    }
}
