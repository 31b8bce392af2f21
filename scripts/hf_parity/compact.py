#!/usr/bin/env python3
"""Shrink a make_fixtures.py output folder in place, dropping only what is verified redundant.

    python3 scripts/hf_parity/compact.py DIR        (inside the oracle; DIR as written by make_fixtures.py)

Every drop is checked first and printed with the value it was checked against; a failed check keeps the data and
makes the exit status 1. Steps:
  clip336        float `*.pixel_values` dropped where `*.pixel_values_uint8` normalises back to them within 1e-6;
  llava_next672  float `img<i>.pixel_values` replaced by `img<i>.pixel_values_uint8` (same round trip within 1e-6);
  png            preprocess/images/*.png dropped when their pixels equal the `img<i>.rgb_uint8` tensors;
  hidden_states  `hidden_states_{k}` dropped where they equal inputs_embeds / layer_output_{k-1} / final_norm_output
                 bit for bit;
  next_sizes     llava_next/reference_<W>x<H>.safetensors (the nine size variants) lose the full `logits`, the
                 `gen_nocache_*` oracle and the decoder / vision-tower intermediates (`layer_output_*`,
                 `final_norm_output`, `vision_hidden_states_*`): the main and two_images files keep them all;
  sharded        llava_next-sharded/ and qwen25vl-sharded/ dropped when their shards hold exactly the tensors of
                 <family>/model.safetensors (llava-sharded/ stays: it tests sharded loading of an HF save).
Every fixture file other than the model checkpoints is then rewritten canonically (equal content, equal bytes:
regenerate.sh copies only the files that changed). manifest.json is rewritten: `files` lists what is left, `compaction` lists every dropped tensor and file.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from safetensors import safe_open

# OpenAI CLIP normalisation (CLIPImageProcessor and LlavaNextImageProcessor defaults, as make_fixtures.py uses them).
CLIP_MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073], dtype=torch.float64).view(3, 1, 1)
CLIP_STD = torch.tensor([0.26862954, 0.26130258, 0.27577711], dtype=torch.float64).view(3, 1, 1)
PIXEL_TOL = 1e-6
NEXT_SIZE_FILE = re.compile(r"^reference_\d+x\d+\.safetensors$")

removed: dict[str, list[str]] = {}
verified: dict[str, Any] = {}
failures: list[str] = []


def log(text: str) -> None:
    print(f"[compact] {text}", flush=True)


def load(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, (f.metadata() or {})


SAFETENSORS_DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.uint8: "U8"}


def save(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
    """A canonical safetensors file: tensors in name order, metadata keys sorted, so equal content gives equal bytes.
    (safetensors' own writer keeps the metadata in a hash map: its order, hence the file's bytes, vary per run.)"""
    header: dict[str, Any] = {"__metadata__": dict(sorted(meta.items()))} if meta else {}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        if t.dtype not in SAFETENSORS_DTYPES:
            raise ValueError(f"{path}: tensor {name} has dtype {t.dtype}; expected one of {list(SAFETENSORS_DTYPES)}")
        data = t.numpy().tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for data in blobs:
            f.write(data)


def canonicalise(root: Path) -> None:
    """Rewrites every fixture file that is not a model checkpoint (those are HF's save_pretrained output, kept as is)."""
    for path in sorted(root.rglob("*.safetensors")):
        if not path.name.startswith("model"):
            tensors, meta = load(path)
            save(path, tensors, meta)


def check(name: str, value: Any, ok: bool) -> bool:
    verified[name] = {"value": value, "ok": ok}
    log(f"{'ok      ' if ok else 'MISMATCH'} {name} = {value}")
    if not ok:
        failures.append(name)
    return ok


def drop(rel: str, tensors: dict[str, torch.Tensor], name: str) -> None:
    del tensors[name]
    removed.setdefault(rel, []).append(name)


def normalise(u8: torch.Tensor) -> torch.Tensor:
    """uint8 [..., 3, H, W] -> (u / 255 - mean) / std in float64."""
    return (u8.to(torch.float64) / 255.0 - CLIP_MEAN) / CLIP_STD


def max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.to(torch.float64) - b.to(torch.float64)).abs().max()) if a.numel() else 0.0


def compact_clip336(root: Path) -> None:
    path = root / "preprocess" / "clip336.safetensors"
    if not path.exists():
        return
    rel = str(path.relative_to(root))
    tensors, meta = load(path)
    for name in sorted(n for n in tensors if n.endswith(".pixel_values")):
        u8 = tensors.get(name + "_uint8")
        if u8 is None:
            continue
        diff = max_abs(normalise(u8), tensors[name])
        if check(f"{rel}:{name}_vs_normalised_uint8_max_abs_diff", diff, diff <= PIXEL_TOL):
            drop(rel, tensors, name)
    save(path, tensors, meta)


def compact_next672(root: Path) -> None:
    path = root / "preprocess" / "llava_next672.safetensors"
    if not path.exists():
        return
    rel = str(path.relative_to(root))
    tensors, meta = load(path)
    for name in sorted(n for n in tensors if n.endswith(".pixel_values")):
        x = tensors[name].to(torch.float64)
        u = ((x * CLIP_STD + CLIP_MEAN) * 255.0).round()
        in_range = bool((u >= 0).all() and (u <= 255).all())
        u8 = u.clamp(0, 255).to(torch.uint8)
        diff = max_abs(normalise(u8), tensors[name])
        if check(f"{rel}:{name}_vs_normalised_uint8_max_abs_diff", diff, in_range and diff <= PIXEL_TOL):
            tensors[name + "_uint8"] = u8
            drop(rel, tensors, name)
    save(path, tensors, meta)


def compact_pngs(root: Path) -> None:
    """preprocess/images/clip<i>_*.png and next<i>_*.png duplicate img<i>.rgb_uint8 of clip336 / llava_next672."""
    images = root / "preprocess" / "images"
    if not images.is_dir():
        return
    sources = {"clip": root / "preprocess" / "clip336.safetensors", "next": root / "preprocess" / "llava_next672.safetensors"}
    for png in sorted(images.glob("*.png")):
        m = re.match(r"^(clip|next)(\d+)_", png.name)
        rel = str(png.relative_to(root))
        if not m or not sources[m.group(1)].exists():
            check(f"{rel}:has_rgb_uint8_twin", False, False)
            continue
        with safe_open(str(sources[m.group(1)]), framework="pt") as f:
            key = f"img{m.group(2)}.rgb_uint8"
            twin = f.get_tensor(key) if key in f.keys() else None
        pixels = torch.from_numpy(np.array(Image.open(png).convert("RGB"))).contiguous()
        same = twin is not None and twin.shape == pixels.shape and bool(torch.equal(twin, pixels))
        if check(f"{rel}:pixels_equal_{sources[m.group(1)].name}:{key}", same, same):
            png.unlink()
            removed.setdefault("preprocess/images", []).append(png.name)
    if images.is_dir() and not any(images.iterdir()):
        images.rmdir()


def hidden_state_twin(k: int, n: int, tensors: dict[str, torch.Tensor]) -> str | None:
    """What hidden_states_k should equal: 0 -> inputs_embeds, 1..n-2 -> layer_output_{k-1}, last -> final norm (5.x)."""
    if k == 0:
        return "inputs_embeds"
    if k == n - 1 and "final_norm_output" in tensors:
        return "final_norm_output"
    return f"layer_output_{k - 1}"


def compact_hidden_states(root: Path) -> None:
    for path in sorted(root.rglob("reference*.safetensors")):
        rel = str(path.relative_to(root))
        tensors, meta = load(path)
        names = [n for n in tensors if re.fullmatch(r"hidden_states_\d+", n)]
        if not names:
            continue
        n = len(names)
        equal: list[str] = []
        for k in range(n):
            twin = hidden_state_twin(k, n, tensors)
            name = f"hidden_states_{k}"
            if twin in tensors and tensors[twin].shape == tensors[name].shape and torch.equal(tensors[twin], tensors[name]):
                equal.append(twin)
                drop(rel, tensors, name)
            else:
                check(f"{rel}:{name}_equals_{twin}", False, False)
        check(f"{rel}:hidden_states_0..{n - 1}_equal", ", ".join(equal), len(equal) == n)
        save(path, tensors, meta)


def compact_next_sizes(root: Path) -> None:
    folder = root / "llava_next"
    if not folder.is_dir():
        return
    for path in sorted(p for p in folder.iterdir() if NEXT_SIZE_FILE.match(p.name)):
        rel = str(path.relative_to(root))
        tensors, meta = load(path)
        dropped = [name for name in sorted(tensors)
                   if name in ("logits", "gen_nocache_tokens", "gen_nocache_step_logits", "final_norm_output")
                   or re.fullmatch(r"(layer_output|vision_hidden_states)_\d+", name)]
        for name in dropped:
            drop(rel, tensors, name)
        save(path, tensors, meta)
        log(f"{rel}: size variant, dropped {' '.join(dropped)}")


def compact_sharded(root: Path) -> None:
    for family in ("llava_next", "qwen25vl"):
        shard_dir, whole = root / f"{family}-sharded", root / family / "model.safetensors"
        if not shard_dir.is_dir() or not whole.exists():
            continue
        expected, _ = load(whole)
        seen: dict[str, torch.Tensor] = {}
        for shard in sorted(shard_dir.glob("*.safetensors")):
            seen.update(load(shard)[0])
        same = seen.keys() == expected.keys() and all(torch.equal(seen[k], expected[k]) for k in expected)
        rel = f"{family}-sharded/"
        if check(f"{rel}:shards_equal_{family}/model.safetensors({len(expected)} tensors)", same, same):
            removed[rel] = sorted(p.name for p in shard_dir.iterdir())
            for p in shard_dir.iterdir():
                p.unlink()
            shard_dir.rmdir()


def safetensors_listing(path: Path) -> dict[str, dict[str, Any]]:
    with open(path, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    header.pop("__metadata__", None)
    return {k: {"dtype": v["dtype"], "shape": v["shape"]} for k, v in sorted(header.items())}


def rewrite_manifest(root: Path) -> None:
    path = root / "manifest.json"
    manifest = json.loads(path.read_text())
    files = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.name == "manifest.json":
            continue
        entry: dict[str, Any] = {"path": str(p.relative_to(root)), "bytes": p.stat().st_size}
        if p.suffix == ".safetensors":
            entry["tensors"] = safetensors_listing(p)
            with safe_open(str(p), framework="pt") as f:
                entry["metadata"] = dict(sorted((f.metadata() or {}).items()))
        files.append(entry)
    manifest["files"] = files
    manifest["compaction"] = {"generator": "scripts/hf_parity/compact.py", "removed": removed, "verified": verified,
                              "failures": failures}
    path.write_text(json.dumps(manifest, indent=1, default=str) + "\n")


def total_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not (Path(argv[0]) / "manifest.json").is_file():
        print(__doc__)
        print("compact.py: give the folder make_fixtures.py wrote (it has manifest.json)", file=sys.stderr)
        return 2
    root = Path(argv[0])
    before = total_bytes(root)
    compact_clip336(root)
    compact_next672(root)
    compact_pngs(root)
    compact_hidden_states(root)
    compact_next_sizes(root)
    compact_sharded(root)
    canonicalise(root)
    rewrite_manifest(root)
    after = total_bytes(root)
    log(f"done: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB, {sum(len(v) for v in removed.values())} items removed, "
        f"{len(failures)} failed checks (kept)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
