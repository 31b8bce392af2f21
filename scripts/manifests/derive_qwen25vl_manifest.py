#!/usr/bin/env python3
"""DERIVED key/shape manifest of Qwen/Qwen2.5-VL-7B-Instruct (no real model.safetensors.index.json was found in
the stored public material; see PioFvlm.Tests/TestData/manifests/README.md).

The names follow the Hub ("legacy") layout of spec qwen25vl-torchsharp.md A2 and every shape is arithmetic on the
config.json given (nothing is read from PioFvlm's code). Output: one "name<TAB>[d0, d1, ...]" line per tensor,
sorted in ordinal (byte) order, each ending in "\n"; the parameter total goes to stderr.

    python3 scripts/manifests/derive_qwen25vl_manifest.py \
        PioFvlm.Tests/TestData/configs/Qwen2.5-VL-7B-Instruct/config.json \
        > PioFvlm.Tests/TestData/manifests/qwen2.5-vl-7b-instruct.derived.txt
"""
import json
import sys

from manifest_io import write_manifest


def derive(config: dict) -> dict[str, list[int]]:
    v = config["vision_config"]
    text = config.get("text_config", config)
    vh, vi, depth = v["hidden_size"], v["intermediate_size"], v["depth"]
    chans = v.get("in_chans", v.get("in_channels", 3))
    merged = vh * v["spatial_merge_size"] ** 2           # the merger's input: 2 x 2 patches concatenated
    out = v["out_hidden_size"]
    h, inter, layers = text["hidden_size"], text["intermediate_size"], text["num_hidden_layers"]
    head_dim = h // text["num_attention_heads"]
    kv = text["num_key_value_heads"] * head_dim
    vocab = text["vocab_size"]

    t: dict[str, list[int]] = {
        "visual.patch_embed.proj.weight": [vh, chans, v["temporal_patch_size"], v["patch_size"], v["patch_size"]],
        "visual.merger.ln_q.weight": [vh],
        "visual.merger.mlp.0.weight": [merged, merged], "visual.merger.mlp.0.bias": [merged],
        "visual.merger.mlp.2.weight": [out, merged], "visual.merger.mlp.2.bias": [out],
        "model.embed_tokens.weight": [vocab, h],
        "model.norm.weight": [h],
    }
    for i in range(depth):
        b = f"visual.blocks.{i}."
        t[b + "norm1.weight"] = [vh]
        t[b + "norm2.weight"] = [vh]
        t[b + "attn.qkv.weight"], t[b + "attn.qkv.bias"] = [3 * vh, vh], [3 * vh]
        t[b + "attn.proj.weight"], t[b + "attn.proj.bias"] = [vh, vh], [vh]
        for m in ("gate_proj", "up_proj"):
            t[b + f"mlp.{m}.weight"], t[b + f"mlp.{m}.bias"] = [vi, vh], [vi]
        t[b + "mlp.down_proj.weight"], t[b + "mlp.down_proj.bias"] = [vh, vi], [vh]
    for i in range(layers):
        b = f"model.layers.{i}."
        t[b + "input_layernorm.weight"] = [h]
        t[b + "post_attention_layernorm.weight"] = [h]
        t[b + "self_attn.q_proj.weight"], t[b + "self_attn.q_proj.bias"] = [h, h], [h]
        t[b + "self_attn.k_proj.weight"], t[b + "self_attn.k_proj.bias"] = [kv, h], [kv]
        t[b + "self_attn.v_proj.weight"], t[b + "self_attn.v_proj.bias"] = [kv, h], [kv]
        t[b + "self_attn.o_proj.weight"] = [h, h]              # o_proj has no bias
        t[b + "mlp.gate_proj.weight"] = [inter, h]
        t[b + "mlp.up_proj.weight"] = [inter, h]
        t[b + "mlp.down_proj.weight"] = [h, inter]
    if not config.get("tie_word_embeddings", text.get("tie_word_embeddings", False)):
        t["lm_head.weight"] = [vocab, h]
    return t


def main() -> int:
    return write_manifest(derive(json.load(open(sys.argv[1], encoding="utf-8"))))


if __name__ == "__main__":
    sys.exit(main())
