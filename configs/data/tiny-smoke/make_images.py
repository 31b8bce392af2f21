# Writes the six 32x32 PNGs of the tiny-smoke set (stdlib only): a coloured square on grey, colour per image.
import struct, zlib, pathlib

def png(path, width, height, pixel):
    rows = b"".join(b"\x00" + bytes(c for x in range(width) for c in pixel(x, y)) for y in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))

colours = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 200, 30)}
here = pathlib.Path(__file__).parent / "images"
here.mkdir(exist_ok=True)
for name, rgb in colours.items():
    for i, (lo, hi) in enumerate([(4, 20), (12, 28)]):
        png(here / f"{name}-{i}.png", 32, 32, lambda x, y: rgb if lo <= x < hi and lo <= y < hi else (128, 128, 128))
