#!/usr/bin/env python3
"""DERIVED key/shape manifest of a llava-hf LLaVA-NeXT checkpoint (llava-hf/llava-v1.6-vicuna-7b-hf,
llava-hf/llava-v1.6-mistral-7b-hf). No real model.safetensors.index.json of either was found in the stored public
material; see PioFvlm.Tests/TestData/manifests/README.md for the search.

The names are the on-disk ("legacy") names of a transformers 4.3x LlavaNextForConditionalGeneration save (spec
llava.md section 3.1: vision_tower.vision_model.*, multi_modal_projector.*, image_newline, language_model.model.*,
language_model.lm_head.*); every shape is arithmetic on the config.json given, with the HF class defaults below for
the keys a config leaves out. Nothing is read from PioFvlm's code. Output: one "name<TAB>[d0, d1, ...]" line per
tensor, sorted in ordinal (byte) order, each ending in "\n"; the counts go to stderr.

    python3 scripts/manifests/derive_llava_next_manifest.py configs/models/llava-next-7b/config.json \
        > PioFvlm.Tests/TestData/manifests/llava-v1.6-vicuna-7b-hf.derived.txt
    python3 scripts/manifests/derive_llava_next_manifest.py \
        PioFvlm.Tests/TestData/configs/llava-v1.6-mistral-7b-hf/config.json \
        > PioFvlm.Tests/TestData/manifests/llava-v1.6-mistral-7b-hf.derived.txt
"""
import json
import sys

from manifest_io import write_manifest

# Defaults of the transformers config classes for the keys a saved config.json omits (a save writes only the values
# that differ from its class's defaults): LlamaConfig, MistralConfig, CLIPVisionConfig.
TEXT_DEFAULTS = {
    "llama": {"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
              "num_key_value_heads": None, "vocab_size": 32000, "tie_word_embeddings": False},
    "mistral": {"hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
                "num_key_value_heads": 8, "vocab_size": 32000, "tie_word_embeddings": False},
}
VISION_DEFAULTS = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_channels": 3,
                   "image_size": 224, "patch_size": 32}


def with_defaults(given: dict, defaults: dict) -> dict:
    merged = dict(defaults)
    merged.update({k: v for k, v in given.items() if v is not None or k not in defaults})
    return merged


def derive(config: dict) -> dict[str, list[int]]:
    if config.get("model_type") != "llava_next":
        raise SystemExit(f"model_type {config.get('model_type')!r}: this script derives llava_next checkpoints only")
    text_given = config["text_config"]
    text_type = text_given.get("model_type", "llama")
    if text_type not in TEXT_DEFAULTS:
        raise SystemExit(f"text_config.model_type {text_type!r}: no defaults known (llama, mistral)")
    text = with_defaults(text_given, TEXT_DEFAULTS[text_type])
    vision = with_defaults(config["vision_config"], VISION_DEFAULTS)

    vh, vi, depth = vision["hidden_size"], vision["intermediate_size"], vision["num_hidden_layers"]
    patch = vision["patch_size"]
    positions = (vision["image_size"] // patch) ** 2 + 1          # every patch plus the class token
    h, inter, layers = text["hidden_size"], text["intermediate_size"], text["num_hidden_layers"]
    heads = text["num_attention_heads"]
    kv = (text["num_key_value_heads"] or heads) * (h // heads)
    vocab = config.get("vocab_size", text["vocab_size"])            # the top-level value is the resized vocabulary
    if text_given.get("vocab_size", vocab) != vocab:
        raise SystemExit(f"vocab_size {vocab} and text_config.vocab_size {text_given['vocab_size']} disagree")

    vm = "vision_tower.vision_model."
    t: dict[str, list[int]] = {
        vm + "embeddings.class_embedding": [vh],
        vm + "embeddings.patch_embedding.weight": [vh, vision["num_channels"], patch, patch],   # conv without bias
        vm + "embeddings.position_embedding.weight": [positions, vh],
        vm + "pre_layrnorm.weight": [vh], vm + "pre_layrnorm.bias": [vh],          # "layrnorm" is HF's spelling
        vm + "post_layernorm.weight": [vh], vm + "post_layernorm.bias": [vh],      # saved although LLaVA never uses it
        # the projector reads one CLIP layer (vision_feature_layer is a single int in these configs)
        "multi_modal_projector.linear_1.weight": [h, vh], "multi_modal_projector.linear_1.bias": [h],
        "multi_modal_projector.linear_2.weight": [h, h], "multi_modal_projector.linear_2.bias": [h],
        "image_newline": [h],
        "language_model.model.embed_tokens.weight": [vocab, h],
        "language_model.model.norm.weight": [h],
    }
    if not isinstance(config.get("vision_feature_layer", -2), int):
        raise SystemExit("vision_feature_layer is a list: the projector input would be wider; not handled here")
    for i in range(depth):
        b = f"{vm}encoder.layers.{i}."
        for p in ("q_proj", "k_proj", "v_proj", "out_proj"):
            t[b + f"self_attn.{p}.weight"], t[b + f"self_attn.{p}.bias"] = [vh, vh], [vh]
        for norm in ("layer_norm1", "layer_norm2"):
            t[b + f"{norm}.weight"], t[b + f"{norm}.bias"] = [vh], [vh]
        t[b + "mlp.fc1.weight"], t[b + "mlp.fc1.bias"] = [vi, vh], [vi]
        t[b + "mlp.fc2.weight"], t[b + "mlp.fc2.bias"] = [vh, vi], [vh]
    for i in range(layers):
        b = f"language_model.model.layers.{i}."
        t[b + "input_layernorm.weight"] = [h]
        t[b + "post_attention_layernorm.weight"] = [h]
        t[b + "self_attn.q_proj.weight"] = [h, h]                                  # no biases in LLaMA / Mistral
        t[b + "self_attn.k_proj.weight"] = [kv, h]
        t[b + "self_attn.v_proj.weight"] = [kv, h]
        t[b + "self_attn.o_proj.weight"] = [h, h]
        t[b + "mlp.gate_proj.weight"] = [inter, h]
        t[b + "mlp.up_proj.weight"] = [inter, h]
        t[b + "mlp.down_proj.weight"] = [h, inter]
    if not config.get("tie_word_embeddings", text["tie_word_embeddings"]):
        t["language_model.lm_head.weight"] = [vocab, h]
    return t


def main() -> int:
    return write_manifest(derive(json.load(open(sys.argv[1], encoding="utf-8"))))


if __name__ == "__main__":
    sys.exit(main())
