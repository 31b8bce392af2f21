#!/usr/bin/env python3
"""Reference fixtures for the PioFvlm C# port, produced by HuggingFace transformers on tiny random models.

Families: LLaVA-1.5 ("llava"), LLaVA-NeXT with a Mistral text model ("llava_next") and Qwen2.5-VL ("qwen25vl").
Every model is built in code from a tiny config (no download), re-randomised with a fixed seed, run in fp32 with
eager attention, and its inputs, intermediates, logits and greedy generations are written as safetensors.
See README.md next to this file for the layout and the tensor names.

Written against transformers 5.x (read in the 5.16.0.dev0 source); the attribute paths that moved between
4.5x and 5.x are tried in order and every fallback is printed.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import shutil
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError as exc:  # pragma: no cover - only on a machine without torch
    sys.exit(f"make_fixtures.py needs torch: {exc}")

try:
    import transformers
except ImportError as exc:  # pragma: no cover
    sys.exit(f"make_fixtures.py needs transformers (5.x): {exc}")

try:
    from safetensors import safe_open
    from safetensors.torch import save_file
except ImportError as exc:  # pragma: no cover
    sys.exit(f"make_fixtures.py needs safetensors: {exc}")

try:
    import PIL
    from PIL import Image
except ImportError as exc:  # pragma: no cover
    sys.exit(f"make_fixtures.py needs Pillow: {exc}")


# ---------------------------------------------------------------------------------------------------------------
# Constants shared by the fixtures (the C# tests read the same numbers from manifest.json)
# ---------------------------------------------------------------------------------------------------------------

SEED = 0
NEW_TOKENS = 8
WEIGHT_STD = 0.1  # matrices and embeddings
BIAS_STD = 0.1
NORM_STD = 0.1  # norm weights are 1 + N(0, NORM_STD), norm biases N(0, NORM_STD)
SHARD_BYTES = 200_000  # small enough that every tiny model is written as >= 2 shards
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
RESEARCH_PAD_COLOR = tuple(int(m * 255) for m in CLIP_MEAN)  # (122, 116, 104)

# LLaVA / LLaVA-NeXT token ids (tiny vocab 1024, spec llava.md 10.2)
LLAVA_VOCAB = 1024
LLAVA_BOS, LLAVA_EOS, LLAVA_IMAGE, LLAVA_PAD = 1, 2, 1000, 1001
TINY_PINPOINTS = [[28, 56], [56, 28], [56, 56], [84, 28], [28, 84]]  # (h, w) as HF reads them
REAL_PINPOINTS = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]

# Qwen2.5-VL tiny ids (spec qwen25vl-torchsharp.md A10)
QWEN_VOCAB = 256
QWEN_VISION_START, QWEN_VISION_END, QWEN_IMAGE, QWEN_VIDEO = 249, 250, 251, 252
QWEN_BOS, QWEN_PAD, QWEN_EOS = 253, 254, 255

# PIO-FVLM reference (spec pio-fvlm.md 2-3)
PIO_TAU = 0.8
PIO_K_POS = 4
PIO_SCHEDULES = {
    "r1_k20": [(1, 20)],
    "r1_k10": [(1, 10)],
    "r1_k24_r3_k12": [(1, 24), (3, 12)],
}

# NeXT test images at tiny scale (W, H, expected N) from spec llava.md 10.6
NEXT_IMAGES = [
    (56, 42, 199), (45, 60, 203), (28, 84, 217), (84, 28, 203), (100, 30, 203),
    (15, 32, 161), (90, 50, 169), (37, 23, 140), (20, 20, 112), (80, 80, 259),
]


# ---------------------------------------------------------------------------------------------------------------
# Logging and bookkeeping
# ---------------------------------------------------------------------------------------------------------------

def log(msg: str) -> None:
    print(f"[make_fixtures] {msg}", flush=True)


def warn(msg: str) -> None:
    print(f"[make_fixtures] WARNING: {msg}", flush=True)


@dataclass
class Report:
    """Everything that goes into manifest.json besides the file listing."""

    checks: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    api: dict[str, str] = field(default_factory=dict)  # which transformers spelling was used for what

    def check(self, name: str, value: Any, ok: bool | None = None) -> None:
        self.checks[name] = {"value": value, "ok": ok} if ok is not None else {"value": value}
        status = "" if ok is None else (" ok" if ok else " MISMATCH")
        log(f"check {name}: {value}{status}")

    def error(self, where: str, exc: BaseException) -> None:
        text = f"{where}: {type(exc).__name__}: {exc}"
        self.errors.append(text)
        print(f"[make_fixtures] ERROR in {where}", flush=True)
        traceback.print_exc()


REPORT = Report()


def get_path(obj: Any, paths: list[str], what: str) -> Any:
    """Return the first attribute path that exists (e.g. 'model.vision_tower' in 5.x, 'vision_tower' in 4.4x)."""
    for path in paths:
        cur = obj
        ok = True
        for part in path.split("."):
            if not hasattr(cur, part):
                ok = False
                break
            cur = getattr(cur, part)
        if ok and cur is not None:
            REPORT.api[what] = path
            return cur
    raise AttributeError(f"none of {paths} exists on {type(obj).__name__} (looking for {what})")


def import_first(candidates: list[tuple[str, str]], what: str) -> Any:
    """Import the first (module, name) that exists; record which one."""
    errors = []
    for module_name, name in candidates:
        try:
            module = __import__(module_name, fromlist=[name])
            obj = getattr(module, name)
            REPORT.api[what] = f"{module_name}.{name}"
            return obj
        except (ImportError, AttributeError) as exc:
            errors.append(f"{module_name}.{name}: {exc}")
    raise ImportError(f"could not import {what}; tried: " + "; ".join(errors))


# ---------------------------------------------------------------------------------------------------------------
# Tensor helpers and file writing
# ---------------------------------------------------------------------------------------------------------------

def to_saveable(name: str, value: Any) -> torch.Tensor:
    """fp32 for floats, int64 for ints and bools, uint8 only for names ending in '_uint8' (raw pixels)."""
    t = value if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))
    t = t.detach().cpu()
    if name.endswith("_uint8"):
        t = t.to(torch.uint8)
    elif t.is_floating_point():
        t = t.to(torch.float32)
    else:
        t = t.to(torch.int64)
    return t.contiguous().clone()


def write_tensors(path: Path, tensors: dict[str, Any], meta: dict[str, str] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = {name: to_saveable(name, value) for name, value in tensors.items()}
    save_file(clean, str(path), metadata={k: str(v) for k, v in (meta or {}).items()})
    log(f"wrote {path} ({len(clean)} tensors)")


def safetensors_listing(path: Path) -> dict[str, tuple[list[int], str]]:
    """Name -> (shape, dtype) read from the file header itself (no tensor data, no library quirks)."""
    with open(path, "rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_len))
    header.pop("__metadata__", None)
    return {k: (list(v["shape"]), str(v["dtype"])) for k, v in header.items()}


def max_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    if a.shape != b.shape:
        return float("inf")
    return float((a.detach().double().cpu() - b.detach().double().cpu()).abs().max()) if a.numel() else 0.0


# ---------------------------------------------------------------------------------------------------------------
# Deterministic synthetic images
# ---------------------------------------------------------------------------------------------------------------

def synth_image(width: int, height: int, seed: int) -> Image.Image:
    """Gradients plus a checker and seeded noise; RGB, no alpha. Deterministic for (width, height, seed)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 255.0 * x / max(width - 1, 1)
    g = 255.0 * y / max(height - 1, 1)
    b = 255.0 * (((x // 3) + (y // 3)) % 2) * 0.6 + 40.0 * np.sin(x * 0.7 + y * 0.3)
    img = np.stack([r, g, b], axis=-1) + rng.normal(0.0, 18.0, size=(height, width, 3))
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), mode="RGB")


def image_rgb(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), dtype=np.uint8)  # [H, W, 3]


def expand2square(img: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Research LLaVA-1.5 'pad' mode: paste centred on a square of the mean colour."""
    w, h = img.size
    if w == h:
        return img
    side = max(w, h)
    canvas = Image.new(img.mode, (side, side), background)
    canvas.paste(img, ((side - w) // 2, (side - h) // 2))
    return canvas


def pil_shortest_edge_crop(img: Image.Image, short: int, crop: int) -> np.ndarray:
    """Independent PIL recomputation of CLIP resize(shortest edge, bicubic) + centre crop; returns CHW uint8."""
    w, h = img.size
    if w <= h:
        new_w, new_h = short, int(short * h / w)
    else:
        new_w, new_h = int(short * w / h), short
    resized = img.resize((new_w, new_h), Image.BICUBIC) if (new_w, new_h) != (w, h) else img.copy()
    arr = np.asarray(resized, dtype=np.uint8)
    top, left = (new_h - crop) // 2, (new_w - crop) // 2
    if top < 0 or left < 0:
        raise ValueError(f"image {w}x{h} resized to {new_w}x{new_h} is smaller than the crop {crop}")
    return np.ascontiguousarray(arr[top:top + crop, left:left + crop].transpose(2, 0, 1))


def normalize_uint8(u8: np.ndarray) -> np.ndarray:
    """(u8/255 - mean)/std per channel, CHW, float64 (only used to cross-check the processor)."""
    mean = np.asarray(CLIP_MEAN, dtype=np.float64).reshape(3, 1, 1)
    std = np.asarray(CLIP_STD, dtype=np.float64).reshape(3, 1, 1)
    return (u8.astype(np.float64) / 255.0 - mean) / std


def save_png(img: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(str(path), format="PNG")


# ---------------------------------------------------------------------------------------------------------------
# Image processors (PIL backend forced)
# ---------------------------------------------------------------------------------------------------------------

def make_processor(kind: str, **kwargs: Any) -> Any:
    """Build an image processor on the PIL backend. 5.x: '<Name>ImageProcessorPil'; 4.x: the slow class."""
    names = {
        "clip": ("clip", "CLIPImageProcessor"),
        "llava": ("llava", "LlavaImageProcessor"),
        "llava_next": ("llava_next", "LlavaNextImageProcessor"),
        "qwen2_vl": ("qwen2_vl", "Qwen2VLImageProcessor"),
    }
    folder, base = names[kind]
    cls = import_first(
        [
            ("transformers", f"{base}Pil"),
            (f"transformers.models.{folder}.image_processing_pil_{folder}", f"{base}Pil"),
            ("transformers", base),  # 4.x slow processor = PIL path; 5.x would be torchvision, rejected below
        ],
        f"image_processor.{kind}",
    )
    proc = cls(**kwargs)
    backend = getattr(proc, "backend", None)
    if backend is None:
        backend = "pil(slow, 4.x)" if not type(proc).__name__.endswith("Fast") else "torchvision"
    if backend not in ("pil", "pil(slow, 4.x)"):
        raise RuntimeError(f"{type(proc).__name__} uses backend {backend!r}; the fixtures need the PIL backend")
    REPORT.api[f"image_processor.{kind}.backend"] = f"{type(proc).__name__} backend={backend}"
    return proc


def optional_pad_processor(size: int) -> Any:
    """LlavaImageProcessor(do_pad=True) emulates the research padding; only used as a cross-check."""
    try:
        return make_processor("llava", size={"shortest_edge": size}, crop_size={"height": size, "width": size},
                              do_pad=True)
    except Exception as exc:  # noqa: BLE001
        warn(f"LlavaImageProcessor(do_pad=True) on the PIL backend not available ({exc}); skipping that cross-check")
        return None


def run_processor(proc: Any, images: list[Image.Image], **kwargs: Any) -> dict[str, np.ndarray]:
    out = proc(images=images, return_tensors="np", **kwargs)
    return {k: np.asarray(v) for k, v in dict(out).items()}


def processor_uint8(proc: Any, images: list[Image.Image]) -> np.ndarray | None:
    """The same processor with rescale and normalise switched off gives the resized/cropped uint8 pixels."""
    try:
        raw = run_processor(proc, images, do_rescale=False, do_normalize=False)["pixel_values"]
        if raw.dtype != np.uint8:
            if np.abs(raw - np.rint(raw)).max() > 0:
                warn(f"uint8 pass of {type(proc).__name__} returned non-integer values; not using it")
                return None
            raw = np.rint(raw)
        return raw.astype(np.uint8)
    except Exception as exc:  # noqa: BLE001 - record and go on with the PIL recomputation
        warn(f"{type(proc).__name__} rejected do_rescale/do_normalize=False ({exc}); uint8 pixels recomputed with PIL")
        return None


# ---------------------------------------------------------------------------------------------------------------
# Model building
# ---------------------------------------------------------------------------------------------------------------

def rope_kwargs(theta: float, **extra: Any) -> dict[str, Any]:
    """5.x configs take rope_parameters; 4.x take rope_theta (+ rope_scaling). Checked later via inv_freq."""
    if hasattr(transformers, "PreTrainedConfig"):  # 5.x spelling of the base class
        return {"rope_parameters": {"rope_type": "default", "rope_theta": theta, **extra}}
    out: dict[str, Any] = {"rope_theta": theta}
    if extra:
        out["rope_scaling"] = {"type": "mrope", "rope_type": "default", **extra}
    return out


def build_model(model_cls: Any, config: Any, device: str) -> nn.Module:
    torch.manual_seed(SEED)
    try:
        model = model_cls._from_config(config, attn_implementation="eager", dtype=torch.float32)
        REPORT.api["build"] = "_from_config(attn_implementation='eager', dtype=float32)"
    except TypeError:
        config._attn_implementation = "eager"
        model = model_cls(config)
        REPORT.api["build"] = "cls(config) with config._attn_implementation='eager'"
    model = model.to(device=device, dtype=torch.float32)
    model.eval()
    impl = getattr(model.config, "_attn_implementation", None)
    if impl != "eager":
        raise RuntimeError(f"attention implementation is {impl!r}, expected 'eager'")
    return model


def rerandomize(model: nn.Module, seed: int) -> None:
    """HF init zeroes biases and sets norm weights to 1, which hides bias/norm bugs: redraw every parameter."""
    gen = torch.Generator().manual_seed(seed)
    norm_params: set[int] = set()
    for module in model.modules():
        cls_name = type(module).__name__
        if isinstance(module, nn.LayerNorm) or "RMSNorm" in cls_name or "LayerNorm" in cls_name:
            for p in module.parameters(recurse=False):
                norm_params.add(id(p))
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            if id(p) in norm_params:
                value = (1.0 + NORM_STD * noise) if name.endswith("weight") else NORM_STD * noise
            elif name.endswith("bias"):
                value = BIAS_STD * noise
            else:
                value = WEIGHT_STD * noise
            p.copy_(value.to(device=p.device, dtype=p.dtype))


def check_untied(model: nn.Module, embed: nn.Module, head: nn.Module, family: str) -> None:
    tied = embed.weight.data_ptr() == head.weight.data_ptr()
    REPORT.check(f"{family}.lm_head_untied", not tied, ok=not tied)
    if tied:
        raise RuntimeError(f"{family}: lm_head shares storage with embed_tokens although tie_word_embeddings=False")


def check_rope(rotary: nn.Module, theta: float, head_dim: int, family: str) -> None:
    expected = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    actual = rotary.inv_freq.detach().float().cpu()
    diff = max_abs_diff(actual, expected)
    REPORT.check(f"{family}.rope_inv_freq_max_abs_diff(theta={theta})", diff, ok=diff < 1e-6)
    if diff >= 1e-6:
        raise RuntimeError(f"{family}: RoPE inv_freq does not match theta={theta} (max diff {diff})")


def save_model_copies(model: nn.Module, family_dir: Path, sharded_dir: Path) -> dict[str, Any]:
    """save_pretrained twice (one file; small shards), then list keys of both."""
    params = inspect.signature(model.save_pretrained).parameters
    extra = {"safe_serialization": True} if "safe_serialization" in params else {}
    model.save_pretrained(str(family_dir), **extra)
    if sharded_dir.exists():
        shutil.rmtree(sharded_dir)
    model.save_pretrained(str(sharded_dir), max_shard_size=SHARD_BYTES, **extra)

    single = family_dir / "model.safetensors"
    if not single.exists():
        raise FileNotFoundError(f"{single} was not written (model larger than the default shard size?)")
    whole = safetensors_listing(single)
    index_path = sharded_dir / "model.safetensors.index.json"
    shard_keys: dict[str, str] = {}
    if index_path.exists():
        shard_keys = json.loads(index_path.read_text())["weight_map"]
    else:
        warn(f"{index_path} missing: the sharded copy is a single file")
    n_shards = len(set(shard_keys.values()))
    REPORT.check(f"{family_dir.name}.sharded_copy_shards", n_shards, ok=n_shards >= 2)
    REPORT.check(f"{family_dir.name}.sharded_keys_equal_whole", sorted(shard_keys) == sorted(whole),
                 ok=sorted(shard_keys) == sorted(whole))

    lines = [f"# {family_dir.name}/model.safetensors: {len(whole)} tensors (transformers {transformers.__version__})"]
    lines += [f"{k}\t{dtype}\t{shape}" for k, (shape, dtype) in sorted(whole.items())]
    lines += ["", f"# {sharded_dir.name}/model.safetensors.index.json: {len(shard_keys)} tensors in {n_shards} shards"]
    lines += [f"{k}\t{v}" for k, v in sorted(shard_keys.items())]
    (family_dir / "keys.txt").write_text("\n".join(lines) + "\n")
    log(f"{family_dir.name}: {len(whole)} keys; first ones: {sorted(whole)[:4]}")
    print("\n".join(lines[1:len(whole) + 1]), flush=True)
    return {"n_tensors": len(whole), "n_shards": n_shards,
            "n_params": int(sum(p.numel() for p in model.parameters()))}


# ---------------------------------------------------------------------------------------------------------------
# Capturing intermediates
# ---------------------------------------------------------------------------------------------------------------

class Capture:
    """Forward hooks on the decoder layers, the final norm and a pre-hook on the language model."""

    def __init__(self, language_model: nn.Module):
        self.lm = language_model
        self.handles: list[Any] = []
        self.layer_outputs: dict[int, torch.Tensor] = {}
        self.norm_output: torch.Tensor | None = None
        self.lm_kwargs: dict[str, Any] = {}

    def __enter__(self) -> "Capture":
        for i, layer in enumerate(self.lm.layers):
            self.handles.append(layer.register_forward_hook(self._layer_hook(i)))
        self.handles.append(self.lm.norm.register_forward_hook(self._norm_hook))
        self.handles.append(self.lm.register_forward_pre_hook(self._lm_pre_hook, with_kwargs=True))
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self.handles:
            h.remove()

    def _layer_hook(self, i: int) -> Callable:
        def hook(_module: nn.Module, _args: Any, output: Any) -> None:
            out = output[0] if isinstance(output, (tuple, list)) else output
            self.layer_outputs[i] = out.detach().clone()
        return hook

    def _norm_hook(self, _module: nn.Module, _args: Any, output: Any) -> None:
        self.norm_output = output.detach().clone()

    def _lm_pre_hook(self, _module: nn.Module, args: Any, kwargs: dict[str, Any]) -> None:
        for key in ("inputs_embeds", "position_ids", "attention_mask"):
            value = kwargs.get(key)
            if isinstance(value, torch.Tensor):
                self.lm_kwargs[key] = value.detach().clone()


def reference_forward(model: nn.Module, language_model: nn.Module, inputs: dict[str, torch.Tensor],
                      out: dict[str, Any], prefix: str) -> torch.Tensor:
    """One full forward with output_hidden_states; stores hidden states, layer outputs, norm output, logits."""
    with torch.no_grad(), Capture(language_model) as cap:
        result = model(**inputs, output_hidden_states=True, use_cache=False)
    hidden = result.hidden_states
    for k, h in enumerate(hidden):
        out[f"hidden_states_{k}"] = h
    for i in sorted(cap.layer_outputs):
        out[f"layer_output_{i}"] = cap.layer_outputs[i]
    if cap.norm_output is not None:
        out["final_norm_output"] = cap.norm_output
    if "inputs_embeds" in cap.lm_kwargs:
        out["inputs_embeds"] = cap.lm_kwargs["inputs_embeds"]
    else:
        warn(f"{prefix}: inputs_embeds not seen by the language model pre-hook")
    if "position_ids" in cap.lm_kwargs:
        out["position_ids_seen_by_lm"] = cap.lm_kwargs["position_ids"]
    out["logits"] = result.logits
    # In 5.x the last hidden_states entry is the final-norm output (tie_last_hidden_states); say which it is.
    n_layers = len(language_model.layers)
    if len(hidden) == n_layers + 1 and cap.norm_output is not None:
        last_is_norm = max_abs_diff(hidden[-1], cap.norm_output) == 0.0
        REPORT.check(f"{prefix}.hidden_states_last_is_final_norm_output", last_is_norm)
    return result.logits


def greedy_generate(model: nn.Module, inputs: dict[str, torch.Tensor], eos: int, pad: int,
                    prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
    """HF generate, greedy, KV cache on, EOS suppressed; returns new tokens [B, n] and raw logits [B, n, V]."""
    kwargs = dict(max_new_tokens=NEW_TOKENS, do_sample=False, num_beams=1, suppress_tokens=[eos],
                  eos_token_id=eos, pad_token_id=pad, return_dict_in_generate=True, use_cache=True)
    prompt_len = inputs["input_ids"].shape[1]
    with torch.no_grad():
        try:
            result = model.generate(**inputs, output_logits=True, **kwargs)
            steps = result.logits
            REPORT.api["generate.logits"] = "output_logits (raw, before the EOS suppression)"
        except (TypeError, ValueError) as exc:
            warn(f"{prefix}: generate(output_logits=True) failed ({exc}); using output_scores (EOS = -inf there)")
            result = model.generate(**inputs, output_scores=True, **kwargs)
            steps = result.scores
            REPORT.api["generate.logits"] = "output_scores (EOS already -inf)"
    tokens = result.sequences[:, prompt_len:]
    return tokens, torch.stack([s.float() for s in steps], dim=1)


def greedy_nocache(model: nn.Module, inputs: dict[str, torch.Tensor], eos: int,
                   extend: Callable[[dict[str, torch.Tensor], torch.Tensor], dict[str, torch.Tensor]]
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Oracle without any cache: full forward over prompt + generated tokens at every step."""
    cur = dict(inputs)
    tokens, step_logits = [], []
    with torch.no_grad():
        for _ in range(NEW_TOKENS):
            reset_rope_deltas(model)
            logits = model(**cur, use_cache=False).logits[:, -1, :].float()
            masked = logits.clone()
            masked[:, eos] = float("-inf")
            nxt = masked.argmax(dim=-1)
            tokens.append(nxt)
            step_logits.append(logits)
            cur = extend(cur, nxt)
    return torch.stack(tokens, dim=1), torch.stack(step_logits, dim=1)


def extend_plain(cur: dict[str, torch.Tensor], nxt: torch.Tensor) -> dict[str, torch.Tensor]:
    out = dict(cur)
    out["input_ids"] = torch.cat([cur["input_ids"], nxt[:, None]], dim=1)
    out["attention_mask"] = torch.cat([cur["attention_mask"], torch.ones_like(nxt)[:, None]], dim=1)
    if "mm_token_type_ids" in cur:
        out["mm_token_type_ids"] = torch.cat([cur["mm_token_type_ids"], torch.zeros_like(nxt)[:, None]], dim=1)
    return out


def reset_rope_deltas(model: nn.Module) -> None:
    """Qwen caches rope_deltas on the inner model; a stale value from a previous prompt would shift positions."""
    inner = getattr(model, "model", None)
    if inner is not None and hasattr(inner, "rope_deltas"):
        inner.rope_deltas = None


def top2_margin(step_logits: torch.Tensor, eos: int) -> torch.Tensor:
    masked = step_logits.clone().float()
    masked[..., eos] = float("-inf")
    top = masked.topk(2, dim=-1).values
    return top[..., 0] - top[..., 1]


def add_generation(model: nn.Module, inputs: dict[str, torch.Tensor], eos: int, pad: int,
                   out: dict[str, Any], prefix: str) -> None:
    reset_rope_deltas(model)
    try:
        tokens, logits = greedy_generate(model, inputs, eos, pad, prefix)
        out["gen_tokens"] = tokens
        out["gen_step_logits"] = logits
    except Exception as exc:  # noqa: BLE001 - the no-cache oracle below still gives a reference
        REPORT.error(f"{prefix}.generate", exc)
        tokens = logits = None
    nc_tokens, nc_logits = greedy_nocache(model, inputs, eos, extend_plain)
    out["gen_nocache_tokens"] = nc_tokens
    out["gen_nocache_step_logits"] = nc_logits
    out["gen_top2_margin"] = top2_margin(nc_logits, eos)
    if tokens is not None:
        same = bool(torch.equal(tokens.cpu(), nc_tokens.cpu()))
        REPORT.check(f"{prefix}.gen_cache_vs_nocache_tokens_equal", same, ok=same)
        diff = max_abs_diff(logits, nc_logits)
        REPORT.check(f"{prefix}.gen_cache_vs_nocache_logits_max_abs_diff", diff, ok=diff < 1e-4)
    REPORT.check(f"{prefix}.gen_tokens", nc_tokens.cpu().tolist())


# ---------------------------------------------------------------------------------------------------------------
# Manual decoder runner (PIO-FVLM reference and an unpruned cross-check), LLaMA-style text models
# ---------------------------------------------------------------------------------------------------------------

class ListCache:
    """Minimal KV cache with the one method decoder attention calls (update); each layer may have its own length."""

    def __init__(self, n_layers: int):
        self.keys: list[torch.Tensor | None] = [None] * n_layers
        self.values: list[torch.Tensor | None] = [None] * n_layers

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int,
               *args: Any, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if self.keys[layer_idx] is None:
            self.keys[layer_idx], self.values[layer_idx] = key_states, value_states
        else:
            self.keys[layer_idx] = torch.cat([self.keys[layer_idx], key_states], dim=-2)
            self.values[layer_idx] = torch.cat([self.values[layer_idx], value_states], dim=-2)
        return self.keys[layer_idx], self.values[layer_idx]

    def length(self, layer_idx: int) -> int:
        k = self.keys[layer_idx]
        return 0 if k is None else int(k.shape[-2])

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.length(layer_idx)


def causal_mask(length: int, device: Any) -> torch.Tensor:
    """Additive [1, 1, S, S] mask for eager attention: 0 on and below the diagonal, dtype min above."""
    mask = torch.full((length, length), torch.finfo(torch.float32).min, device=device)
    return torch.triu(mask, diagonal=1)[None, None]


def call_layer(layer: nn.Module, h: torch.Tensor, mask: torch.Tensor | None, rotary: nn.Module,
               pos: torch.Tensor, cache: ListCache | None) -> torch.Tensor:
    pe = rotary(h, pos)
    params = inspect.signature(layer.forward).parameters
    kwargs: dict[str, Any] = {"attention_mask": mask, "position_ids": pos, "position_embeddings": pe,
                              "use_cache": cache is not None}
    cache_name = "past_key_values" if "past_key_values" in params else "past_key_value"
    kwargs[cache_name] = cache
    out = layer(h, **kwargs)
    return out[0] if isinstance(out, (tuple, list)) else out


def pio_saliency(lm: nn.Module, lm_head: nn.Module, probe: nn.Module, h: torch.Tensor,
                 pos: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """Spec pio-fvlm.md 2.1-2.4: probe = Layer[r] on detached H, final norm + lm_head, CE over S-5..S-2."""
    seq = h.shape[1]
    shifted = seq - 1
    if shifted <= 0:
        positions = [max(shifted - 1, 0)]
    else:
        positions = sorted({min(max(shifted - 1 - k, 0), shifted - 1) for k in range(PIO_K_POS)})
    with torch.enable_grad():
        x = h.detach().clone().requires_grad_(True)
        y = call_layer(probe, x, mask, lm.rotary_emb, pos, None)
        z = lm_head(lm.norm(y))[:, :-1, :].float()
        zp = z[0, positions]
        pseudo = zp.argmax(dim=-1).detach()
        loss = F.cross_entropy(zp, pseudo)
        (grad,) = torch.autograd.grad(loss, x)
    return {"saliency_full": grad[0].norm(dim=-1).detach(), "loss": loss.detach().reshape(1),
            "pseudo_labels": pseudo, "supervised_positions": torch.tensor(positions)}


def nms_select(saliency: torch.Tensor, feats: torch.Tensor, keep: int, tau: float
               ) -> tuple[list[int], int, torch.Tensor]:
    """Spec pio-fvlm.md 3: order by (-saliency, index); strict NMS pass; fill-up pass; ascending output."""
    n = saliency.shape[0]
    keep = min(keep, n)
    sal = saliency.detach().double().cpu().tolist()
    order = sorted(range(n), key=lambda i: (-sal[i], i))
    normed = F.normalize(feats.detach().float(), p=2.0, dim=-1)
    cosine = (normed @ normed.T).cpu()
    neighbour = cosine >= tau
    suppressed = torch.zeros(n, dtype=torch.bool)
    selected: list[int] = []
    for idx in order:
        if len(selected) == keep:
            break
        if suppressed[idx]:
            continue
        selected.append(idx)
        suppressed |= neighbour[idx]
    n_pass1 = len(selected)
    for idx in order:
        if len(selected) == keep:
            break
        if idx not in selected:
            selected.append(idx)
    return sorted(selected), n_pass1, cosine


def manual_run(lm: nn.Module, lm_head: nn.Module, embeds: torch.Tensor, visual_start: int, n_visual: int,
               schedule: list[tuple[int, int]], eos: int, out: dict[str, Any] | None, name: str
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[int, torch.Tensor]]:
    """Prefill layer by layer (pruning after layer r-1 for each (r, keep)), then greedy decode with a cache.

    Returns (last prefill logits [V], tokens [n], step logits [n, V], unpruned layer outputs by index).
    """
    layers = list(lm.layers)
    plan = dict(schedule)
    cache = ListCache(len(layers))
    device = embeds.device
    h = embeds
    seq = h.shape[1]
    pos = torch.arange(seq, device=device)[None]
    mask = causal_mask(seq, device)
    n_vis = n_visual
    layer_outputs: dict[int, torch.Tensor] = {}
    with torch.no_grad():
        for idx, layer in enumerate(layers):
            h = call_layer(layer, h, mask, lm.rotary_emb, pos, cache)
            layer_outputs[idx] = h
            r = idx + 1
            if r in plan and seq > 1 and n_vis > plan[r] > 0:
                if r >= len(layers):
                    raise ValueError(f"schedule {name}: r={r} needs Layer[{r}] but the model has {len(layers)}")
                stage = sorted(plan).index(r)
                sal = pio_saliency(lm, lm_head, layers[r], h, pos, mask)
                span = sal["saliency_full"][visual_start:visual_start + n_vis]
                kept, n_pass1, cosine = nms_select(span, h[0, visual_start:visual_start + n_vis], plan[r], PIO_TAU)
                kept_t = torch.tensor(kept, device=device)
                if out is not None:
                    key = f"{name}.stage{stage}"
                    out[f"{key}.hidden_in"] = h
                    out[f"{key}.position_ids_in"] = pos
                    out[f"{key}.saliency"] = span
                    out[f"{key}.saliency_full"] = sal["saliency_full"]
                    out[f"{key}.loss"] = sal["loss"]
                    out[f"{key}.pseudo_labels"] = sal["pseudo_labels"]
                    out[f"{key}.supervised_positions"] = sal["supervised_positions"]
                    out[f"{key}.cosine"] = cosine
                    out[f"{key}.kept_local"] = kept_t
                    out[f"{key}.kept_global"] = kept_t + visual_start
                    out[f"{key}.after_layer"] = torch.tensor([r])
                    out[f"{key}.visual_count_in"] = torch.tensor([n_vis])
                    sorted_sal = torch.sort(span.double(), descending=True).values
                    min_gap = float((sorted_sal[:-1] - sorted_sal[1:]).min()) if n_vis > 1 else float("inf")
                    near_tau = int(((cosine - PIO_TAU).abs() < 1e-5).sum())
                    REPORT.check(f"llava.pio.{key}", {"kept_local": kept, "n_pass1": n_pass1,
                                                      "min_saliency_gap": min_gap,
                                                      "cosine_pairs_within_1e-5_of_tau": near_tau})
                h = torch.cat([h[:, :visual_start], h[:, visual_start + kept_t], h[:, visual_start + n_vis:]], dim=1)
                seq = h.shape[1]
                pos = torch.arange(seq, device=device)[None]
                mask = causal_mask(seq, device)
                n_vis = len(kept)
        last_logits = lm_head(lm.norm(h))[0, -1].float()
        tokens, step_logits = [], []
        logits = last_logits
        embed = lm.embed_tokens
        for _ in range(NEW_TOKENS):
            masked = logits.clone()
            masked[eos] = float("-inf")
            tok = int(masked.argmax())
            tokens.append(tok)
            step_logits.append(logits)
            x = embed(torch.tensor([[tok]], device=device))
            for idx, layer in enumerate(layers):
                p = torch.tensor([[cache.length(idx)]], device=device)
                x = call_layer(layer, x, None, lm.rotary_emb, p, cache)
            logits = lm_head(lm.norm(x))[0, -1].float()
    return last_logits, torch.tensor(tokens), torch.stack(step_logits), layer_outputs


def llava_pio(model: nn.Module, ref: dict[str, Any], visual_start: int, n_visual: int, path: Path) -> None:
    lm = get_path(model, ["model.language_model", "language_model.model"], "llava.language_model")
    lm_head = get_path(model, ["lm_head", "language_model.lm_head"], "llava.lm_head")
    embeds = ref["inputs_embeds"]

    # Cross-check the manual runner without pruning against HF before trusting it with pruning.
    last, tokens, steps, layer_outs = manual_run(lm, lm_head, embeds, visual_start, n_visual, [], LLAVA_EOS,
                                                 None, "unpruned")
    worst = max(max_abs_diff(layer_outs[i], ref[f"layer_output_{i}"]) for i in layer_outs)
    REPORT.check("llava.pio.manual_unpruned_layer_outputs_max_abs_diff", worst, ok=worst < 1e-5)
    same = bool(torch.equal(tokens.cpu(), ref["gen_nocache_tokens"][0].cpu()))
    REPORT.check("llava.pio.manual_unpruned_tokens_equal_hf", same, ok=same)
    diff = max_abs_diff(steps, ref["gen_nocache_step_logits"][0])
    REPORT.check("llava.pio.manual_unpruned_step_logits_max_abs_diff", diff, ok=diff < 1e-4)

    out: dict[str, Any] = {"visual_start": torch.tensor([visual_start]), "visual_count": torch.tensor([n_visual]),
                           "input_ids": ref["input_ids"], "inputs_embeds": embeds,
                           "tau": torch.tensor([PIO_TAU]), "k_pos": torch.tensor([PIO_K_POS]),
                           "unpruned.gen_tokens": tokens, "unpruned.gen_step_logits": steps}
    for name, schedule in PIO_SCHEDULES.items():
        if max(r for r, _ in schedule) >= len(lm.layers):
            warn(f"schedule {name} skipped: the text model has {len(lm.layers)} layers")
            continue
        try:
            last, tokens, steps, _ = manual_run(lm, lm_head, embeds, visual_start, n_visual, schedule,
                                                LLAVA_EOS, out, name)
            out[f"{name}.schedule"] = torch.tensor(schedule)
            out[f"{name}.prefill_last_logits"] = last
            out[f"{name}.gen_tokens"] = tokens
            out[f"{name}.gen_step_logits"] = steps
            out[f"{name}.gen_top2_margin"] = top2_margin(steps, LLAVA_EOS)
            REPORT.check(f"llava.pio.{name}.gen_tokens", tokens.tolist())
        except Exception as exc:  # noqa: BLE001
            REPORT.error(f"llava.pio.{name}", exc)
    write_tensors(path, out, {"what": "PIO-FVLM reference selections (spec pio-fvlm.md 2-3), fp32 gradients",
                              "tau": str(PIO_TAU), "k_pos": str(PIO_K_POS)})


# ---------------------------------------------------------------------------------------------------------------
# CLIP-based families (LLaVA-1.5 and LLaVA-NeXT)
# ---------------------------------------------------------------------------------------------------------------

def tiny_clip_vision() -> dict[str, Any]:
    return dict(model_type="clip_vision_model", image_size=28, patch_size=4, hidden_size=32, intermediate_size=64,
                num_hidden_layers=3, num_attention_heads=4, hidden_act="quick_gelu", layer_norm_eps=1e-5,
                attention_dropout=0.0, dropout=0.0, projection_dim=32, num_channels=3)


def text_ids(rng: np.random.Generator, n: int, low: int, high: int) -> list[int]:
    return [int(v) for v in rng.integers(low, high, size=n)]


def clip_features(model: nn.Module, pixel_values: torch.Tensor, family: str, out: dict[str, Any]) -> torch.Tensor:
    """Vision tower hidden states (all), selected features (layer -2, CLS dropped) and projector output."""
    tower = get_path(model, ["model.vision_tower", "vision_tower"], f"{family}.vision_tower")
    projector = get_path(model, ["model.multi_modal_projector", "multi_modal_projector"], f"{family}.projector")
    with torch.no_grad():
        vis = tower(pixel_values, output_hidden_states=True, return_dict=True)
        for k, h in enumerate(vis.hidden_states):
            out[f"vision_hidden_states_{k}"] = h
        layer = model.config.vision_feature_layer
        selected = vis.hidden_states[layer][:, 1:]
        projected = projector(selected)
    out["vision_selected_features"] = selected
    out["projector_output"] = projected
    return projected


def image_span(ids: list[int], image_id: int) -> list[tuple[int, int]]:
    spans, start = [], None
    for i, t in enumerate(ids + [-1]):
        if t == image_id and start is None:
            start = i
        elif t != image_id and start is not None:
            spans.append((start, i - start))
            start = None
    return spans


def check_merge(out: dict[str, Any], features: torch.Tensor, image_id: int, prefix: str) -> None:
    ids = out["input_ids"][0]
    merged = out["inputs_embeds"][0][ids == image_id]
    diff = max_abs_diff(merged, features.reshape(-1, features.shape[-1]))
    REPORT.check(f"{prefix}.inputs_embeds_at_image_tokens_vs_features_max_abs_diff", diff, ok=diff < 1e-6)


def llava_config() -> Any:
    LlavaConfig = import_first([("transformers", "LlavaConfig")], "llava.config")
    text = dict(model_type="llama", vocab_size=LLAVA_VOCAB, hidden_size=64, intermediate_size=176,
                num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4, rms_norm_eps=1e-5,
                max_position_embeddings=512, hidden_act="silu", attention_bias=False, mlp_bias=False,
                tie_word_embeddings=False, bos_token_id=LLAVA_BOS, eos_token_id=LLAVA_EOS,
                pad_token_id=LLAVA_PAD, **rope_kwargs(10000.0))
    return LlavaConfig(vision_config=tiny_clip_vision(), text_config=text, image_token_index=LLAVA_IMAGE,
                       pad_token_id=LLAVA_PAD, projector_hidden_act="gelu", vision_feature_layer=-2,
                       vision_feature_select_strategy="default", image_seq_length=49,
                       multimodal_projector_bias=True, tie_word_embeddings=False)


def llava_family(out_dir: Path, device: str) -> None:
    family = "llava"
    fdir, sdir = out_dir / family, out_dir / f"{family}-sharded"
    fdir.mkdir(parents=True, exist_ok=True)
    config = llava_config()
    model = build_model(import_first([("transformers", "LlavaForConditionalGeneration")], "llava.model"),
                        config, device)
    rerandomize(model, SEED)
    lm = get_path(model, ["model.language_model", "language_model.model"], "llava.language_model")
    check_untied(model, lm.embed_tokens, get_path(model, ["lm_head", "language_model.lm_head"], "llava.lm_head"),
                 family)
    check_rope(lm.rotary_emb, 10000.0, 16, family)
    REPORT.notes[family] = {"config": config.to_dict(), **save_model_copies(model, fdir, sdir)}

    proc = make_processor("clip", size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28})
    proc_pad = optional_pad_processor(28)
    cases = {
        "main": [(45, 60)],  # non-square: shortest edge 28 -> 28x37 -> centre crop
        "square": [(28, 28)],  # resize is the identity
        "two_images": [(45, 60), (28, 28)],
    }
    for case_index, (case, sizes) in enumerate(cases.items()):
        prefix = f"{family}.{case}"
        try:
            images = [synth_image(w, h, seed=100 + 10 * case_index + i) for i, (w, h) in enumerate(sizes)]
            for i, img in enumerate(images):
                save_png(img, fdir / "images" / f"{case}_{i}_{img.size[0]}x{img.size[1]}.png")
            out: dict[str, Any] = {}
            pixel_values = clip_pixels(proc, images, out, prefix)
            pad_images = [expand2square(img, RESEARCH_PAD_COLOR) for img in images]
            pad_pixels: dict[str, Any] = {}
            clip_pixels(proc, pad_images, pad_pixels, prefix + ".pad")
            out["pixel_values_pad"] = pad_pixels["pixel_values"]
            out["pixel_values_pad_uint8"] = pad_pixels["pixel_values_uint8"]
            if proc_pad is not None:
                hf_pad = run_processor(proc_pad, images)["pixel_values"]
                diff = max_abs_diff(torch.from_numpy(hf_pad), pad_pixels["pixel_values"])
                REPORT.check(f"{prefix}.expand2square_vs_LlavaImageProcessor_do_pad_max_abs_diff", diff,
                             ok=diff < 1e-6)

            n_tokens = (28 // 4) * (28 // 4) + 1 - 1  # processor: (crop/patch)^2 + num_additional(1) - 1 (default)
            rng = np.random.default_rng(1000 + case_index)
            ids = [LLAVA_BOS] + text_ids(rng, 5, 3, 1000)
            for i in range(len(images)):
                ids += [LLAVA_IMAGE] * n_tokens + text_ids(rng, 3 if i + 1 < len(images) else 12, 3, 1000)
            input_ids = torch.tensor([ids], device=device)
            inputs = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids),
                      "pixel_values": pixel_values.to(device)}
            out["input_ids"] = input_ids
            out["attention_mask"] = inputs["attention_mask"]
            out["image_sizes_hw"] = torch.tensor([[img.size[1], img.size[0]] for img in images])
            out["image_token_counts"] = torch.tensor([n_tokens] * len(images))
            for i, img in enumerate(images):
                out[f"image_{i}_rgb_uint8"] = torch.from_numpy(image_rgb(img))
            features = clip_features(model, inputs["pixel_values"], family, out)
            reference_forward(model, lm, inputs, out, prefix)
            check_merge(out, features, LLAVA_IMAGE, prefix)
            add_generation(model, inputs, LLAVA_EOS, LLAVA_PAD, out, prefix)
            spans = image_span(ids, LLAVA_IMAGE)
            out["image_spans"] = torch.tensor(spans)
            name = "reference.safetensors" if case == "main" else f"reference_{case}.safetensors"
            write_tensors(fdir / name, out, {"family": family, "case": case, "sizes_wh": str(sizes)})
            if case == "main":
                llava_pio(model, out, spans[0][0], spans[0][1], fdir / "pio_reference.safetensors")
        except Exception as exc:  # noqa: BLE001 - keep going with the other cases
            REPORT.error(prefix, exc)


def clip_pixels(proc: Any, images: list[Image.Image], out: dict[str, Any], prefix: str) -> torch.Tensor:
    """pixel_values from the processor, the uint8 crops (processor pass or PIL recomputation), cross-checked."""
    pv = run_processor(proc, images)["pixel_values"].astype(np.float32)
    crop = int(proc.crop_size["height"]) if isinstance(proc.crop_size, dict) else int(proc.crop_size.height)
    short = proc.size["shortest_edge"] if isinstance(proc.size, dict) else proc.size.shortest_edge
    recomputed = np.stack([pil_shortest_edge_crop(img, int(short), crop) for img in images])
    u8 = processor_uint8(proc, images)
    if u8 is not None:
        same = bool(np.array_equal(u8, recomputed))
        REPORT.check(f"{prefix}.uint8_processor_equals_pil_recompute", same, ok=same)
    else:
        u8 = recomputed
    diff = float(np.abs(normalize_uint8(u8) - pv.astype(np.float64)).max())
    REPORT.check(f"{prefix}.pixel_values_vs_normalized_uint8_max_abs_diff", diff, ok=diff < 1e-5)
    out["pixel_values"] = torch.from_numpy(pv)
    out["pixel_values_uint8"] = torch.from_numpy(u8)
    return out["pixel_values"]


def next_num_tokens(orig_h: int, orig_w: int, crop: int, patch: int, pinpoints: list[list[int]]) -> int:
    """Token count as LlavaNextProcessor computes it (HF's own methods when reachable, else the same arithmetic)."""
    try:
        proc_cls = import_first([("transformers", "LlavaNextProcessor")], "llava_next.processor")

        class _Fake:  # only the attributes _get_number_of_features reads
            pass

        fake = _Fake()
        fake.patch_size = patch
        fake.num_additional_image_tokens = 1
        fake.vision_feature_select_strategy = "default"
        fake.image_processor = type("IP", (), {"image_grid_pinpoints": pinpoints})()
        fake._get_unpadded_features = lambda *a: proc_cls._get_unpadded_features(fake, *a)
        n = proc_cls._get_number_of_features(fake, orig_h, orig_w, crop, crop)
        return int(n) - 1  # vision_feature_select_strategy == "default"
    except Exception as exc:  # noqa: BLE001
        warn(f"LlavaNextProcessor._get_number_of_features not usable ({exc}); using the spec arithmetic")
    select_best = import_first([("transformers.image_processing_utils", "select_best_resolution")],
                               "select_best_resolution")
    best_h, best_w = select_best([orig_h, orig_w], pinpoints)
    g = crop // patch
    cur_h, cur_w = g * (best_h // crop), g * (best_w // crop)
    if orig_w / orig_h > cur_w / cur_h:
        new_h = int(round(orig_h * (cur_w / orig_w), 7))
        cur_h -= 2 * ((cur_h - new_h) // 2)
    else:
        new_w = int(round(orig_w * (cur_h / orig_h), 7))
        cur_w -= 2 * ((cur_w - new_w) // 2)
    return g * g + cur_h * (cur_w + 1)


def llava_next_config() -> Any:
    LlavaNextConfig = import_first([("transformers", "LlavaNextConfig")], "llava_next.config")
    text = dict(model_type="mistral", vocab_size=LLAVA_VOCAB, hidden_size=64, intermediate_size=176,
                num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5,
                max_position_embeddings=1024, sliding_window=None, hidden_act="silu", tie_word_embeddings=False,
                bos_token_id=LLAVA_BOS, eos_token_id=LLAVA_EOS, pad_token_id=LLAVA_PAD, **rope_kwargs(1e6))
    return LlavaNextConfig(vision_config=tiny_clip_vision(), text_config=text, image_token_index=LLAVA_IMAGE,
                           pad_token_id=LLAVA_PAD, projector_hidden_act="gelu", vision_feature_layer=-2,
                           vision_feature_select_strategy="default", image_grid_pinpoints=TINY_PINPOINTS,
                           image_seq_length=49, multimodal_projector_bias=True, tie_word_embeddings=False)


def next_pack(model: nn.Module, projected: torch.Tensor, crops_per_image: list[int], image_sizes: torch.Tensor,
              out: dict[str, Any]) -> torch.Tensor:
    inner = model.model if hasattr(getattr(model, "model", None), "pack_image_features") else model
    newline = get_path(model, ["model.image_newline", "image_newline"], "llava_next.image_newline")
    per_image = list(torch.split(projected, crops_per_image, dim=0))
    with torch.no_grad():
        packed = inner.pack_image_features(per_image, image_sizes, vision_feature_select_strategy="default",
                                           image_newline=newline)
    features, lens = packed if isinstance(packed, tuple) else (packed, None)
    if isinstance(features, (list, tuple)):
        features = torch.cat(list(features), dim=0)
    out["packed_image_features"] = features
    if lens is not None:
        out["feature_lens"] = lens
    out["image_newline"] = newline
    return features


def llava_next_family(out_dir: Path, device: str) -> None:
    family = "llava_next"
    fdir, sdir = out_dir / family, out_dir / f"{family}-sharded"
    fdir.mkdir(parents=True, exist_ok=True)
    config = llava_next_config()
    model = build_model(import_first([("transformers", "LlavaNextForConditionalGeneration")], "llava_next.model"),
                        config, device)
    rerandomize(model, SEED)
    lm = get_path(model, ["model.language_model", "language_model.model"], "llava_next.language_model")
    check_untied(model, lm.embed_tokens,
                 get_path(model, ["lm_head", "language_model.lm_head"], "llava_next.lm_head"), family)
    check_rope(lm.rotary_emb, 1e6, 16, family)
    REPORT.notes[family] = {"config": config.to_dict(), **save_model_copies(model, fdir, sdir)}
    num_patches = import_first([("transformers.models.llava_next.modeling_llava_next", "image_size_to_num_patches")],
                               "llava_next.image_size_to_num_patches")

    proc = make_processor("llava_next", size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28},
                          image_grid_pinpoints=TINY_PINPOINTS)
    cases: dict[str, list[tuple[int, int, int]]] = {f"{w}x{h}": [(w, h, n)] for (w, h, n) in NEXT_IMAGES}
    cases["two_images"] = [NEXT_IMAGES[0], NEXT_IMAGES[8]]
    for case_index, (case, sizes) in enumerate(cases.items()):
        prefix = f"{family}.{case}"
        try:
            images = [synth_image(w, h, seed=200 + 10 * case_index + i) for i, (w, h, _) in enumerate(sizes)]
            for i, img in enumerate(images):
                save_png(img, fdir / "images" / f"{case}_{i}_{img.size[0]}x{img.size[1]}.png")
            out: dict[str, Any] = {}
            res = run_processor(proc, images)
            pixel_values = torch.from_numpy(res["pixel_values"].astype(np.float32))
            image_sizes = torch.from_numpy(np.asarray(res["image_sizes"]).astype(np.int64))
            out["pixel_values"] = pixel_values
            out["image_sizes"] = image_sizes
            crops = [int(num_patches(image_size=[int(v) for v in s], grid_pinpoints=TINY_PINPOINTS, patch_size=28))
                     for s in image_sizes]
            out["crops_per_image"] = torch.tensor(crops)
            u8 = processor_uint8(proc, images)
            if u8 is not None:
                # Crops beyond crops_per_image are batch padding: zeros in pixel_values, zeros in the uint8 pass.
                out["pixel_values_uint8"] = torch.from_numpy(u8)
                diff = max(float(np.abs(normalize_uint8(u8[i, :c]) - res["pixel_values"][i, :c]).max())
                           for i, c in enumerate(crops))
                REPORT.check(f"{prefix}.pixel_values_vs_normalized_uint8_max_abs_diff", diff, ok=diff < 1e-5)
            counts = []
            for (w, h, expected) in sizes:
                n = next_num_tokens(h, w, 28, 4, TINY_PINPOINTS)
                REPORT.check(f"{prefix}.num_image_tokens_{w}x{h}", n, ok=(n == expected))
                counts.append(n)
            rng = np.random.default_rng(2000 + case_index)
            ids = [LLAVA_BOS] + text_ids(rng, 5, 3, 1000)
            for i, n in enumerate(counts):
                ids += [LLAVA_IMAGE] * n + text_ids(rng, 3 if i + 1 < len(counts) else 10, 3, 1000)
            input_ids = torch.tensor([ids], device=device)
            inputs = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids),
                      "pixel_values": pixel_values.to(device), "image_sizes": image_sizes.to(device)}
            out["input_ids"] = input_ids
            out["attention_mask"] = inputs["attention_mask"]
            out["image_token_counts"] = torch.tensor(counts)
            out["image_spans"] = torch.tensor(image_span(ids, LLAVA_IMAGE))
            for i, img in enumerate(images):
                out[f"image_{i}_rgb_uint8"] = torch.from_numpy(image_rgb(img))
            flat = torch.cat([pixel_values[i, :c] for i, c in enumerate(crops)], dim=0).to(device)
            projected = clip_features(model, flat, family, out)
            features = next_pack(model, projected, crops, inputs["image_sizes"], out)
            REPORT.check(f"{prefix}.packed_len_equals_token_count", int(features.shape[0]),
                         ok=int(features.shape[0]) == sum(counts))
            reference_forward(model, lm, inputs, out, prefix)
            check_merge(out, features, LLAVA_IMAGE, prefix)
            add_generation(model, inputs, LLAVA_EOS, LLAVA_PAD, out, prefix)
            name = "reference.safetensors" if case_index == 0 else f"reference_{case}.safetensors"
            write_tensors(fdir / name, out, {"family": family, "case": case,
                                             "sizes_wh": str([(w, h) for (w, h, _) in sizes])})
        except Exception as exc:  # noqa: BLE001
            REPORT.error(prefix, exc)


# ---------------------------------------------------------------------------------------------------------------
# Qwen2.5-VL
# ---------------------------------------------------------------------------------------------------------------

def qwen_config() -> Any:
    Qwen2_5_VLConfig = import_first([("transformers", "Qwen2_5_VLConfig")], "qwen25vl.config")
    vision = dict(depth=4, hidden_size=64, num_heads=4, intermediate_size=128, hidden_act="silu", patch_size=14,
                  temporal_patch_size=2, spatial_merge_size=2, window_size=56, fullatt_block_indexes=[1, 3],
                  out_hidden_size=64, tokens_per_second=2, in_channels=3)
    text = dict(vocab_size=QWEN_VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-6, max_position_embeddings=1024,
                hidden_act="silu", use_sliding_window=False, bos_token_id=QWEN_BOS, eos_token_id=QWEN_EOS,
                pad_token_id=QWEN_PAD, tie_word_embeddings=False,
                **rope_kwargs(100.0, mrope_section=[2, 3, 3]))
    return Qwen2_5_VLConfig(text_config=text, vision_config=vision, image_token_id=QWEN_IMAGE,
                            video_token_id=QWEN_VIDEO, vision_start_token_id=QWEN_VISION_START,
                            vision_end_token_id=QWEN_VISION_END, tie_word_embeddings=False,
                            bos_token_id=QWEN_BOS, eos_token_id=QWEN_EOS, pad_token_id=QWEN_PAD)


def qwen_vision(model: nn.Module, pixel_values: torch.Tensor, grid_thw: torch.Tensor, out: dict[str, Any]
                ) -> torch.Tensor:
    visual = get_path(model, ["model.visual", "visual"], "qwen25vl.visual")
    handles, seen = [], {}

    def keep(name: str, take_input: bool = False) -> Callable:
        def hook(_m: nn.Module, args: Any, output: Any) -> None:
            value = args[0] if take_input else (output[0] if isinstance(output, (tuple, list)) else output)
            seen[name] = value.detach().clone()
        return hook

    handles.append(visual.patch_embed.register_forward_hook(keep("vision_patch_embed")))
    handles.append(visual.rotary_pos_emb.register_forward_hook(keep("vision_rotary_freqs")))
    for i, blk in enumerate(visual.blocks):
        handles.append(blk.register_forward_hook(keep(f"vision_block_output_{i}")))
    handles.append(visual.merger.register_forward_hook(keep("vision_merger_input", take_input=True)))
    handles.append(visual.merger.register_forward_hook(keep("vision_merger_output_window_order")))
    try:
        with torch.no_grad():
            result = visual(pixel_values, grid_thw=grid_thw)
    finally:
        for h in handles:
            h.remove()
    embeds = getattr(result, "pooler_output", None)
    if embeds is None:
        embeds = result if isinstance(result, torch.Tensor) else result[0]
        REPORT.api["qwen25vl.visual_output"] = "tensor (4.5x)"
    else:
        REPORT.api["qwen25vl.visual_output"] = "BaseModelOutputWithPooling.pooler_output (5.x)"
    out.update(seen)
    out["image_embeds"] = embeds

    grid = grid_thw.cpu()
    cu = torch.repeat_interleave(grid[:, 1] * grid[:, 2], grid[:, 0]).cumsum(0)
    out["vision_cu_seqlens"] = F.pad(cu, (1, 0))
    try:
        window_fn = import_first([("transformers.vision_utils", "get_vision_window_index")], "qwen25vl.window_index")
        cfg = model.config.vision_config
        window_index, cu_window = window_fn(grid_thw, spatial_merge_size=cfg.spatial_merge_size,
                                            window_size=cfg.window_size, patch_size=cfg.patch_size)
    except ImportError:
        window_index, cu_window = visual.get_window_index(grid_thw)
        REPORT.api["qwen25vl.window_index"] = "visual.get_window_index (4.5x)"
    cu_window = torch.as_tensor(cu_window)
    out["vision_window_index"] = window_index
    out["vision_cu_window_seqlens_raw"] = cu_window
    out["vision_cu_window_seqlens"] = torch.unique_consecutive(cu_window)  # HF drops empty windows this way
    return embeds


def qwen_rope_index(model: nn.Module, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    inner = get_path(model, ["model"], "qwen25vl.inner")
    fn = inner.get_rope_index if hasattr(inner, "get_rope_index") else model.get_rope_index
    params = inspect.signature(fn).parameters
    kwargs = {"image_grid_thw": inputs.get("image_grid_thw"), "video_grid_thw": None,
              "attention_mask": inputs["attention_mask"]}
    if "mm_token_type_ids" in params:
        kwargs["mm_token_type_ids"] = inputs["mm_token_type_ids"]
        REPORT.api["qwen25vl.get_rope_index"] = "get_rope_index(input_ids, mm_token_type_ids, ...) (5.x)"
    else:
        REPORT.api["qwen25vl.get_rope_index"] = "get_rope_index(input_ids, image_grid_thw, ...) (4.5x)"
    return fn(inputs["input_ids"], **kwargs)


def qwen_family(out_dir: Path, device: str) -> None:
    family = "qwen25vl"
    fdir, sdir = out_dir / family, out_dir / f"{family}-sharded"
    fdir.mkdir(parents=True, exist_ok=True)
    config = qwen_config()
    model = build_model(import_first([("transformers", "Qwen2_5_VLForConditionalGeneration")], "qwen25vl.model"),
                        config, device)
    rerandomize(model, SEED)
    lm = get_path(model, ["model.language_model", "model"], "qwen25vl.language_model")
    check_untied(model, lm.embed_tokens, model.lm_head, family)
    check_rope(lm.rotary_emb, 100.0, 16, family)
    text_cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    rope = getattr(text_cfg, "rope_parameters", None) or getattr(text_cfg, "rope_scaling", None) or {}
    REPORT.check("qwen25vl.mrope_section", rope.get("mrope_section"), ok=list(rope.get("mrope_section", [])) == [2, 3, 3])
    REPORT.notes[family] = {"config": config.to_dict(), **save_model_copies(model, fdir, sdir)}

    proc = make_processor("qwen2_vl", size={"shortest_edge": 28 * 28, "longest_edge": 28 * 28 * 4096},
                          patch_size=14, temporal_patch_size=2, merge_size=2)
    images = [synth_image(140, 196, seed=301), synth_image(112, 112, seed=302)]  # W x H, multiples of 28
    for i, img in enumerate(images):
        save_png(img, fdir / "images" / f"main_{i}_{img.size[0]}x{img.size[1]}.png")
    res = run_processor(proc, images)
    pixel_values = torch.from_numpy(res["pixel_values"].astype(np.float32))
    grid_thw = torch.from_numpy(np.asarray(res["image_grid_thw"]).astype(np.int64))
    counts = [int(g.prod()) // 4 for g in grid_thw]
    REPORT.check("qwen25vl.image_grid_thw", grid_thw.tolist(), ok=grid_thw.tolist() == [[1, 14, 10], [1, 8, 8]])

    rng = np.random.default_rng(3000)
    main_ids = (text_ids(rng, 6, 0, 249) + [QWEN_VISION_START] + [QWEN_IMAGE] * counts[0] + [QWEN_VISION_END]
                + text_ids(rng, 4, 0, 249) + [QWEN_VISION_START] + [QWEN_IMAGE] * counts[1] + [QWEN_VISION_END]
                + text_ids(rng, 8, 0, 249))
    text_only = text_ids(rng, 20, 0, 249)
    pad_len = len(main_ids) - len(text_only)

    def make_inputs(rows: list[list[int]], masks: list[list[int]], with_images: bool) -> dict[str, torch.Tensor]:
        ids = torch.tensor(rows, device=device)
        mm = (ids == QWEN_IMAGE).long()
        inputs = {"input_ids": ids, "attention_mask": torch.tensor(masks, device=device), "mm_token_type_ids": mm}
        if with_images:
            inputs["pixel_values"] = pixel_values.to(device)
            inputs["image_grid_thw"] = grid_thw.to(device)
        return inputs

    cases = {
        "main": make_inputs([main_ids], [[1] * len(main_ids)], True),
        "text_only": make_inputs([text_only], [[1] * len(text_only)], False),
        "batch_padded": make_inputs([main_ids, [QWEN_PAD] * pad_len + text_only],
                                    [[1] * len(main_ids), [0] * pad_len + [1] * len(text_only)], True),
    }
    for case, inputs in cases.items():
        prefix = f"{family}.{case}"
        try:
            out: dict[str, Any] = {k: v for k, v in inputs.items()}
            if "pixel_values" in inputs:
                out["image_token_counts"] = torch.tensor(counts)
                for i, img in enumerate(images):
                    out[f"image_{i}_rgb_uint8"] = torch.from_numpy(image_rgb(img))
                embeds = qwen_vision(model, inputs["pixel_values"], inputs["image_grid_thw"], out)
            reset_rope_deltas(model)
            if "pixel_values" in inputs:
                position_ids, deltas = qwen_rope_index(model, inputs)
                out["position_ids"] = position_ids
                out["rope_deltas"] = deltas
            reset_rope_deltas(model)
            reference_forward(model, lm, inputs, out, prefix)
            if "pixel_values" in inputs:
                check_merge(out, embeds, QWEN_IMAGE, prefix)
                seen = out.get("position_ids_seen_by_lm")
                if seen is not None:
                    seen3 = seen[-3:] if seen.shape[0] == 4 else seen
                    mask = inputs["attention_mask"].bool()
                    same = bool(torch.equal(seen3[:, mask].cpu(), out["position_ids"][:, mask].cpu()))
                    REPORT.check(f"{prefix}.position_ids_seen_by_lm_equal_get_rope_index", same, ok=same)
            add_generation(model, inputs, QWEN_EOS, QWEN_PAD, out, prefix)
            name = "reference.safetensors" if case == "main" else f"reference_{case}.safetensors"
            write_tensors(fdir / name, out, {"family": family, "case": case})
            if case == "main":
                qwen_pruned(model, lm, inputs, out, fdir, f"{family}.pruned_every3")
        except Exception as exc:  # noqa: BLE001
            REPORT.error(prefix, exc)


QWEN_PRUNED_NEW_TOKENS = 4
QWEN_PRUNED_STRIDE = 3


def qwen_lm_run(model: nn.Module, lm: nn.Module, embeds: torch.Tensor, position_ids: torch.Tensor, first_token_pos: int,
                steps: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The text model on given embeddings with EXPLICIT 3-row positions [3, 1, N] (no get_rope_index), then a hand-written
    greedy decode through a DynamicCache, new token i at position first_token_pos + i on all three rows.
    Returns (prefill logits [1, N, V], tokens [1, steps], raw step logits [1, steps, V]; EOS suppressed in the argmax)."""
    DynamicCache = import_first([("transformers", "DynamicCache"), ("transformers.cache_utils", "DynamicCache")],
                                "qwen25vl.dynamic_cache")
    try:
        cache = DynamicCache(config=lm.config)
    except TypeError:
        cache = DynamicCache()
    n = embeds.shape[1]
    with torch.no_grad():
        res = lm(inputs_embeds=embeds, position_ids=position_ids, attention_mask=torch.ones(1, n, dtype=torch.long, device=embeds.device),
                 past_key_values=cache, use_cache=True)
        logits = model.lm_head(res.last_hidden_state)
        step = logits[:, -1, :].float()
        tokens, step_logits = [], []
        for i in range(steps):
            masked = step.clone()
            masked[:, QWEN_EOS] = float("-inf")
            nxt = masked.argmax(dim=-1)
            tokens.append(nxt)
            step_logits.append(step)
            if i + 1 == steps:
                break
            emb = lm.embed_tokens(nxt[:, None])
            pos = torch.full((3, 1, 1), first_token_pos + i, dtype=torch.long, device=embeds.device)
            mask = torch.ones(1, n + i + 1, dtype=torch.long, device=embeds.device)
            res = lm(inputs_embeds=emb, position_ids=pos, attention_mask=mask, past_key_values=res.past_key_values, use_cache=True)
            step = model.lm_head(res.last_hidden_state)[:, -1, :].float()
    return logits, torch.stack(tokens, dim=1), torch.stack(step_logits, dim=1)


def qwen_pruned(model: nn.Module, lm: nn.Module, inputs: dict[str, torch.Tensor], main: dict[str, Any], fdir: Path,
                prefix: str) -> None:
    """Pruned positions against transformers: only every 3rd visual token of each image (token j kept when j % 3 == 0)
    and every text token enter the text model, each with its ORIGINAL get_rope_index (t, h, w) passed explicitly, and
    decoding continues at max(original positions) + 1, as the unpruned prompt would."""
    try:
        ids = inputs["input_ids"][0].tolist()
        kept, j = [], 0
        for col, tok in enumerate(ids):
            if tok != QWEN_IMAGE:
                kept.append(col)
                j = 0
                continue
            if j % QWEN_PRUNED_STRIDE == 0:
                kept.append(col)
            j += 1
        cols = torch.tensor(kept, dtype=torch.long, device=inputs["input_ids"].device)
        embeds = main["inputs_embeds"].to(cols.device)
        positions = main["position_ids"].to(cols.device)            # [3, 1, S] from get_rope_index
        nxt = int(positions.max()) + 1
        # The explicit-position path is checked first on the whole prompt against the model's own forward.
        full_logits, _, full_steps = qwen_lm_run(model, lm, embeds, positions, nxt, 1)
        diff = max_abs_diff(full_logits, main["logits"])
        REPORT.check(f"{prefix}.explicit_positions_unpruned_vs_model_forward_max_abs_diff", diff, ok=diff < 1e-5)
        kept_pos = positions[:, :, cols]
        logits, tokens, steps = qwen_lm_run(model, lm, embeds[:, cols], kept_pos, nxt, QWEN_PRUNED_NEW_TOKENS)
        # pixel_values stay in reference.safetensors (same inputs); ids and grids are repeated to tie the two files.
        out = {k: main[k] for k in ("input_ids", "image_grid_thw", "position_ids")}
        out.update({"kept_columns": cols, "kept_position_ids": kept_pos, "kept_inputs_embeds": embeds[:, cols],
                    "decode_position_start": torch.tensor([nxt]), "logits": logits, "gen_tokens": tokens,
                    "gen_step_logits": steps, "gen_top2_margin": top2_margin(steps, QWEN_EOS)})
        REPORT.check(f"{prefix}.kept_tokens", len(kept))
        REPORT.check(f"{prefix}.gen_tokens", tokens.cpu().tolist())
        write_tensors(fdir / "reference_pruned_every3.safetensors", out, {"family": "qwen25vl", "case": "pruned_every3"})
    except Exception as exc:  # noqa: BLE001
        REPORT.error(prefix, exc)


# ---------------------------------------------------------------------------------------------------------------
# Preprocessing-only fixtures at real scale
# ---------------------------------------------------------------------------------------------------------------

def preprocess_fixtures(out_dir: Path, with_next: bool) -> None:
    pdir = out_dir / "preprocess"
    pdir.mkdir(parents=True, exist_ok=True)
    try:
        proc = make_processor("clip", size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336})
        proc_pad = optional_pad_processor(336)
        out: dict[str, Any] = {}
        sizes = [(640, 480), (333, 500), (336, 336), (1000, 200)]
        for i, (w, h) in enumerate(sizes):
            img = synth_image(w, h, seed=400 + i)
            save_png(img, pdir / "images" / f"clip{i}_{w}x{h}.png")
            out[f"img{i}.rgb_uint8"] = torch.from_numpy(image_rgb(img))
            out[f"img{i}.size_hw"] = torch.tensor([h, w])
            crop: dict[str, Any] = {}
            clip_pixels(proc, [img], crop, f"preprocess.clip336.img{i}.crop")
            out[f"img{i}.crop.pixel_values"] = crop["pixel_values"][0]
            out[f"img{i}.crop.pixel_values_uint8"] = crop["pixel_values_uint8"][0]
            pad: dict[str, Any] = {}
            clip_pixels(proc, [expand2square(img, RESEARCH_PAD_COLOR)], pad, f"preprocess.clip336.img{i}.pad")
            out[f"img{i}.pad.pixel_values"] = pad["pixel_values"][0]
            out[f"img{i}.pad.pixel_values_uint8"] = pad["pixel_values_uint8"][0]
            if proc_pad is not None:
                hf_pad = torch.from_numpy(run_processor(proc_pad, [img])["pixel_values"][0])
                diff = max_abs_diff(hf_pad, pad["pixel_values"][0])
                REPORT.check(f"preprocess.clip336.img{i}.expand2square_vs_do_pad_max_abs_diff", diff,
                             ok=diff < 1e-6)
        write_tensors(pdir / "clip336.safetensors", out, {"processor": REPORT.api.get("image_processor.clip", ""),
                                                          "pad_color": str(RESEARCH_PAD_COLOR)})
    except Exception as exc:  # noqa: BLE001
        REPORT.error("preprocess.clip336", exc)

    if not with_next:
        return
    try:
        proc = make_processor("llava_next", size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336},
                              image_grid_pinpoints=REAL_PINPOINTS)
        out = {}
        for i, (w, h, expected) in enumerate([(640, 480, 2340), (300, 200, 1464)]):
            img = synth_image(w, h, seed=500 + i)
            save_png(img, pdir / "images" / f"next{i}_{w}x{h}.png")
            res = run_processor(proc, [img])
            out[f"img{i}.rgb_uint8"] = torch.from_numpy(image_rgb(img))
            out[f"img{i}.pixel_values"] = torch.from_numpy(res["pixel_values"][0].astype(np.float32))
            out[f"img{i}.image_sizes"] = torch.from_numpy(np.asarray(res["image_sizes"][0]).astype(np.int64))
            n = next_num_tokens(h, w, 336, 14, REAL_PINPOINTS)
            out[f"img{i}.num_image_tokens"] = torch.tensor([n])
            REPORT.check(f"preprocess.llava_next672.img{i}.num_image_tokens_{w}x{h}", n, ok=n == expected)
        write_tensors(pdir / "llava_next672.safetensors", out,
                      {"processor": REPORT.api.get("image_processor.llava_next", "")})
    except Exception as exc:  # noqa: BLE001
        REPORT.error("preprocess.llava_next672", exc)


# ---------------------------------------------------------------------------------------------------------------
# Manifest and entry point
# ---------------------------------------------------------------------------------------------------------------

def versions(device: str) -> dict[str, Any]:
    info = {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "numpy": np.__version__, "pillow": PIL.__version__,
            "device": device, "cuda": torch.version.cuda, "platform": platform.platform()}
    try:
        import safetensors
        info["safetensors"] = safetensors.__version__
    except Exception:  # noqa: BLE001
        pass
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def write_manifest(out_dir: Path, info: dict[str, Any], args: argparse.Namespace) -> None:
    files = []
    for path in sorted(out_dir.rglob("*")):
        if not path.is_file() or path.name == "manifest.json":
            continue
        entry: dict[str, Any] = {"path": str(path.relative_to(out_dir)), "bytes": path.stat().st_size}
        if path.suffix == ".safetensors":
            entry["tensors"] = {k: {"dtype": dtype, "shape": shape}
                                for k, (shape, dtype) in sorted(safetensors_listing(path).items())}
            with safe_open(str(path), framework="pt") as f:
                entry["metadata"] = f.metadata()
        files.append(entry)
    manifest = {
        "generator": "scripts/hf_parity/make_fixtures.py",
        "versions": info,
        "arguments": {"families": args.families, "device": args.device},
        "settings": {"seed": SEED, "dtype": "float32", "attn_implementation": "eager", "new_tokens": NEW_TOKENS,
                     "weight_std": WEIGHT_STD, "bias_std": BIAS_STD, "norm_std": NORM_STD,
                     "pio": {"tau": PIO_TAU, "k_pos": PIO_K_POS, "schedules": PIO_SCHEDULES},
                     "tolerances": {"pixels_abs": 1e-5, "logits_rel": 1e-4, "hidden_abs": 1e-5}},
        "api": REPORT.api,
        "checks": REPORT.checks,
        "errors": REPORT.errors,
        "notes": REPORT.notes,
        "files": files,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str) + "\n")
    log(f"wrote {out_dir / 'manifest.json'} ({len(files)} files)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="PioFvlm.Tests/TestData/hf_parity", help="output folder")
    parser.add_argument("--families", default="llava,llava_next,qwen25vl",
                        help="comma list of llava, llava_next, qwen25vl")
    parser.add_argument("--device", default="cpu", help="cpu (default, recommended) or cuda")
    parser.add_argument("--no-preprocess", action="store_true", help="skip the real-scale preprocessing fixtures")
    parser.add_argument("--no-next-real-scale", action="store_true",
                        help="skip preprocess/llava_next672.safetensors (about 10 MB)")
    args = parser.parse_args(argv)

    families = [f.strip() for f in args.families.split(",") if f.strip()]
    known = {"llava": llava_family, "llava_next": llava_next_family, "qwen25vl": qwen_family}
    unknown = [f for f in families if f not in known]
    if unknown:
        parser.error(f"unknown families {unknown}; known: {sorted(known)}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda but torch.cuda.is_available() is False")

    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if args.device.startswith("cuda"):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    info = versions(args.device)
    log(f"versions: {info}")
    if not transformers.__version__.startswith("5."):
        warn(f"written for transformers 5.x, running {transformers.__version__}: watch the fallbacks below")
    (out_dir / "versions.json").write_text(json.dumps(info, indent=1) + "\n")

    for family in families:
        log(f"=== {family} ===")
        try:
            known[family](out_dir, args.device)
        except Exception as exc:  # noqa: BLE001 - one family failing must not lose the others
            REPORT.error(family, exc)
    if not args.no_preprocess:
        log("=== preprocessing (real scale) ===")
        preprocess_fixtures(out_dir, with_next=not args.no_next_real_scale)

    info["api"] = REPORT.api
    (out_dir / "versions.json").write_text(json.dumps(info, indent=1) + "\n")
    write_manifest(out_dir, info, args)
    bad = [name for name, c in REPORT.checks.items() if c.get("ok") is False]
    log(f"done: {len(REPORT.checks)} checks, {len(bad)} mismatches, {len(REPORT.errors)} errors")
    for name in bad:
        warn(f"mismatch: {name} = {REPORT.checks[name]['value']}")
    for text in REPORT.errors:
        warn(f"error: {text}")
    return 1 if REPORT.errors else 0


if __name__ == "__main__":
    sys.exit(main())
