using System.Runtime.ExceptionServices;
using Microsoft.Win32.SafeHandles;
using TorchSharp;
using static TorchSharp.torch;

namespace PioFvlm.Core.IO.Safetensors;

/// <summary>
/// Moves a CPU tensor's bytes between its native storage and a file in bounded chunks, so no managed copy of the
/// data exists and tensors over 2 GiB work (TorchSharp's <c>Tensor.bytes</c> span is limited to int.MaxValue bytes,
/// so each chunk is a narrowed view whose span is small).
/// </summary>
internal static class TensorBytes
{
    /// <summary>Bytes moved per system call: large enough to amortise the call, small enough for any span.</summary>
    public const int ChunkBytes = 16 << 20;

    /// <summary>Fills the contiguous CPU tensor <paramref name="target"/> from the file at <paramref name="fileOffset"/>.</summary>
    /// <remarks>Chunks are read on several threads: most of the cost is the kernel copying into, and faulting in,
    /// fresh pages of the new tensor, which parallelises across cores.</remarks>
    /// <exception cref="CheckpointFormatException">the file ends before the tensor is full.</exception>
    public static void ReadInto(SafeFileHandle file, long fileOffset, Tensor target, string path, string tensorName)
    {
        var chunks = Chunks(target).ToList();
        try
        {
            var starts = new long[chunks.Count];
            for (int i = 1; i < chunks.Count; i++)
                starts[i] = starts[i - 1] + chunks[i - 1].numel() * target.ElementSize;
            void ReadChunk(int i)
            {
                Span<byte> span = chunks[i].bytes;
                long offset = fileOffset + starts[i];
                while (span.Length > 0)
                {
                    int read = RandomAccess.Read(file, span, offset);
                    if (read == 0)
                        throw new CheckpointFormatException(path,
                            $"file ends at byte {offset} inside the tensor's data (truncated file)", tensorName);
                    offset += read;
                    span = span[read..];
                }
            }
            if (chunks.Count == 1) ReadChunk(0);
            else Parallel.For(0, chunks.Count, new ParallelOptions { MaxDegreeOfParallelism = ReadThreads }, ReadChunk);
        }
        catch (AggregateException e) when (e.InnerExceptions[0] is CheckpointFormatException inner)
        {
            ExceptionDispatchInfo.Throw(inner);
        }
        finally
        {
            foreach (var chunk in chunks) chunk.Dispose();
        }
    }

    static int ReadThreads => Math.Clamp(Environment.ProcessorCount, 1, 8);

    /// <summary>Writes the contiguous CPU tensor <paramref name="source"/> to <paramref name="stream"/>.</summary>
    public static void WriteFrom(Tensor source, Stream stream)
    {
        foreach (var chunk in Chunks(source))
        {
            using (chunk)
                stream.Write(chunk.bytes);
        }
    }

    /// <summary>Views of consecutive pieces of at most <see cref="ChunkBytes"/> bytes; the caller disposes each.</summary>
    static IEnumerable<Tensor> Chunks(Tensor t)
    {
        if (t.device_type != DeviceType.CPU || !t.is_contiguous())
            throw new ArgumentException("tensor must be contiguous and on the CPU", nameof(t));
        long count = t.numel();
        if (count == 0) yield break;
        long step = Math.Max(1, ChunkBytes / t.ElementSize);
        using var flat = t.view(-1);
        for (long start = 0; start < count; start += step)
            yield return flat.narrow(0, start, Math.Min(step, count - start));
    }
}
