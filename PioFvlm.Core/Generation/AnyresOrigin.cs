namespace PioFvlm.Core.Generation;

/// <summary>
/// Where the tokens of a <see cref="VisualSpan"/> came from in an anyres image (LLaVA-NeXT): the crop, the patch cell
/// of its first token, and for tile rows the row of the unpadded feature map and whether an image_newline follows.
/// A tile span never crosses a crop or a cell row, so before any pruning token k of the span is cell
/// (<see cref="CellRow"/>, <see cref="CellColumn"/> + k) of crop <see cref="Crop"/>; the base view is one span in raster
/// order (token k is cell (k / g, k % g)), and so is a whole crop after a per-crop pre-LLM reducer (MapRow -1). After pruning, Crop, CellRow and
/// MapRow stay true for every kept token of the span; CellColumn is the first column before pruning.
/// </summary>
/// <param name="Crop">0 = the resized base view, 1.. = the tiles in row-major order.</param>
/// <param name="CellRow">Patch row inside the crop (0..g-1).</param>
/// <param name="CellColumn">Patch column inside the crop of the span's first token.</param>
/// <param name="MapRow">Row of the unpadded tile feature map (-1 for the base view). All spans of one MapRow of one
/// image form one row of the packed grid.</param>
/// <param name="NewlineAfter">True for the last span of a map row: the position right after it holds the row's
/// image_newline embedding (not a visual token: never scored, never counted as kept; it goes with its row when every
/// token of the row is pruned, see <see cref="Pruning.SequenceCut"/>).</param>
public readonly record struct AnyresOrigin(int Crop, int CellRow, int CellColumn, int MapRow, bool NewlineAfter);
