"""Reference images for PioFvlm.Tests/Vision, made with real Pillow (Debian python3-pil 9.4.0, numpy 1.24).

Run: /usr/bin/python3 make_images.py   (writes next to this file; outputs are committed, tests never run Python)

- src_23x17.png: noise with saturated pixels (exercises the negative lobes and clipping);
  resize_WxH.rgb: Pillow's Image.resize((W, H), Image.BICUBIC) of it, raw RGB bytes.
- hf_80x60.f32: CLIPImageProcessor arithmetic at tiny scale (shortest edge 28, crop 28) done the HF way with
  PIL + numpy on src_80x60.png: PIL bicubic resize, numpy centre crop with //, float64 rescale stored as float32,
  float32 normalisation; raw little-endian float32 CHW. pad_80x60.f32: the research pad-to-square variant.
- mode_*.png and mode_*.rgb: PNGs in L, LA, RGBA, P modes and PIL's convert('RGB') of each.
- jpeg_16x16.jpg and jpeg_16x16.rgb: a 4:4:4 quality-95 JPEG and libjpeg's (PIL's) decode of it.
"""
import numpy as np
from PIL import Image

rng = np.random.default_rng(7)

src = rng.integers(0, 256, size=(17, 23, 3), dtype=np.uint8)
src[::4, ::3] = 255
src[2::5, 1::4] = 0
Image.fromarray(src, "RGB").save("src_23x17.png")
for (w, h) in [(7, 5), (50, 40), (23, 9), (11, 17), (46, 17), (23, 34), (3, 2), (1, 1), (22, 16)]:
    out = Image.fromarray(src, "RGB").resize((w, h), Image.BICUBIC)
    open(f"resize_{w}x{h}.rgb", "wb").write(np.asarray(out, dtype=np.uint8).tobytes())

mean = [0.48145466, 0.4578275, 0.40821073]
std = [0.26862954, 0.26130258, 0.27577711]

def clip_process(img, size=28):
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    nw, nh = (new_short, new_long) if w <= h else (new_long, new_short)
    if (nw, nh) != img.size:
        img = img.resize((nw, nh), Image.BICUBIC)
    a = np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)
    top, left = (nh - size) // 2, (nw - size) // 2
    a = a[:, top:top + size, left:left + size]
    a = (a.astype(np.float64) * (1 / 255)).astype(np.float32)
    m = np.array(mean, dtype=np.float32)[:, None, None]
    s = np.array(std, dtype=np.float32)[:, None, None]
    return ((a - m) / s).astype(np.float32)

def expand2square(img, bg):
    w, h = img.size
    if w == h:
        return img
    side = max(w, h)
    res = Image.new(img.mode, (side, side), bg)
    res.paste(img, ((side - w) // 2, (side - h) // 2))
    return res

yy, xx = np.mgrid[0:60, 0:80]
grad = np.stack([(xx * 3) % 256, (yy * 4) % 256, ((xx + yy) * 2) % 256], axis=-1).astype(np.int32)
grad = np.clip(grad + rng.integers(-20, 21, size=grad.shape), 0, 255).astype(np.uint8)
img = Image.fromarray(grad, "RGB")
img.save("src_80x60.png")
open("hf_80x60.f32", "wb").write(clip_process(img).astype("<f4").tobytes())
bg = tuple(int(x * 255) for x in mean)
open("pad_80x60.f32", "wb").write(clip_process(expand2square(img, bg)).astype("<f4").tobytes())

base = rng.integers(0, 256, size=(5, 6, 4), dtype=np.uint8)
Image.fromarray(base[..., 0], "L").save("mode_L.png")
Image.fromarray(base[..., :2].copy(), "LA").save("mode_LA.png")
Image.fromarray(base, "RGBA").save("mode_RGBA.png")
Image.fromarray(base[..., :3].copy(), "RGB").quantize(colors=7).save("mode_P.png")
for m in ["L", "LA", "RGBA", "P"]:
    im = Image.open(f"mode_{m}.png")
    assert im.mode == m, (m, im.mode)
    open(f"mode_{m}.rgb", "wb").write(np.asarray(im.convert("RGB"), dtype=np.uint8).tobytes())

blocks = np.zeros((16, 16, 3), dtype=np.uint8)
blocks[:8, :8] = (200, 30, 40)
blocks[:8, 8:] = (20, 180, 60)
blocks[8:, :8] = (30, 60, 210)
blocks[8:, 8:] = (128, 128, 128)
Image.fromarray(blocks, "RGB").save("jpeg_16x16.jpg", quality=95, subsampling=0)
open("jpeg_16x16.rgb", "wb").write(np.asarray(Image.open("jpeg_16x16.jpg").convert("RGB"), dtype=np.uint8).tobytes())
print("ok")
