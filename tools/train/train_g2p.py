"""Train the g2p demo model: a small T5 (2+2 layers, d_model 128) mapping a lower-case word to its
ARPAbet pronunciation, on the split made by prepare_g2p.py, with that folder's tokenizer.json.
Writes a Hugging Face checkpoint folder: config.json, generation_config.json, model.safetensors
(tied weights stored once, as shared.weight), tokenizer.json, metrics.json (test phoneme error rate
and word exact match, greedy decoding, measured here by PyTorch). Fixed seeds; CPU only.
Usage: train_g2p.py --data DIR --out DIR [--epochs N]"""
import argparse
import json
import os
import random
import re
import shutil
import time

import torch

from safetensors_io import save_safetensors
from t5_model import T5ForConditionalGeneration

MAX_NEW_TOKENS = 32


def config(vocab_size):
    return {
        "architectures": ["T5ForConditionalGeneration"], "model_type": "t5", "vocab_size": vocab_size,
        "d_model": 128, "d_kv": 32, "d_ff": 512, "num_layers": 2, "num_decoder_layers": 2, "num_heads": 4,
        "relative_attention_num_buckets": 32, "relative_attention_max_distance": 128, "dropout_rate": 0.1,
        "layer_norm_epsilon": 1e-6, "initializer_factor": 1.0, "feed_forward_proj": "relu",
        "is_encoder_decoder": True, "tie_word_embeddings": True, "use_cache": True,
        "pad_token_id": 0, "eos_token_id": 1, "decoder_start_token_id": 0, "torch_dtype": "float32",
    }


def edit_distance(a, b):
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[len(b)]


def encode(vocab, text):  # what tokenizer.json does: isolate symbols, look up, append </s>
    return [vocab.get(t, vocab["<unk>"]) for t in re.findall(r"[A-Z]+[0-9]?|\S", text)] + [vocab["</s>"]]


def pad(seqs, value):
    n = max(len(s) for s in seqs)
    return torch.tensor([s + [value] * (n - len(s)) for s in seqs])


def length_batches(pairs, size, rng):
    order = sorted(range(len(pairs)), key=lambda i: (len(pairs[i][0]), rng.random()))
    chunks = [order[i:i + size] for i in range(0, len(order), size)]
    rng.shuffle(chunks)
    return chunks


def evaluate(model, vocab, rows, inv):
    model.eval()
    edits = ref_len = exact = 0
    for i in range(0, len(rows), 256):
        chunk = rows[i:i + 256]
        ids = [encode(vocab, r["text"]) for r in chunk]
        x = pad(ids, 0)
        out = model.greedy(x, (x != 0).long(), MAX_NEW_TOKENS)
        for r, seq in zip(chunk, out.tolist()):
            body = seq[1:]  # after decoder_start; up to the first </s>
            if 1 in body:
                body = body[:body.index(1)]
            hyp = [inv[t] for t in body if t != 0]
            ref = r["target"].split()
            edits += edit_distance(hyp, ref)
            ref_len += len(ref)
            exact += hyp == ref
    return edits / ref_len, exact / len(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.manual_seed(1234)
    torch.set_num_threads(a.threads)
    rng = random.Random(1234)
    vocab = json.load(open(os.path.join(a.data, "tokenizer.json")))["model"]["vocab"]
    inv = {i: t for t, i in vocab.items()}
    load = lambda s: [json.loads(l) for l in open(os.path.join(a.data, f"{s}.jsonl"))]
    train, test = load("train"), load("test")
    pairs = [(encode(vocab, r["text"]), encode(vocab, r["target"])) for r in train]

    c = config(len(vocab))
    model = T5ForConditionalGeneration(c)
    per_epoch = len(length_batches(pairs, 128, random.Random(0)))
    steps = a.epochs * per_epoch
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / 500, max(0.02, (steps - s) / steps)))
    step, t0 = 0, time.time()
    for epoch in range(a.epochs):
        model.train()
        for idx in length_batches(pairs, 128, rng):
            src = pad([pairs[i][0] for i in idx], 0)
            tgt = pad([pairs[i][1] for i in idx], -100)
            dec_in = torch.cat([torch.zeros(len(idx), 1, dtype=torch.long), tgt[:, :-1].clamp(min=0)], 1)
            logits = model(src, (src != 0).long(), dec_in)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=-100)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            if step % 100 == 0:
                print(f"epoch {epoch} step {step}/{steps} loss {loss.item():.4f} {time.time() - t0:.0f}s", flush=True)
        per, em = evaluate(model, vocab, test[:500], inv)
        print(f"epoch {epoch}: PER {per:.4f} exact {em:.4f} on 500 test words", flush=True)

    per, em = evaluate(model, vocab, test, inv)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
    with open(os.path.join(a.out, "generation_config.json"), "w") as f:
        json.dump({"decoder_start_token_id": 0, "eos_token_id": 1, "pad_token_id": 0, "max_new_tokens": MAX_NEW_TOKENS}, f, indent=2)
    save_safetensors(model.state_dict(), os.path.join(a.out, "model.safetensors"))
    shutil.copy(os.path.join(a.data, "tokenizer.json"), os.path.join(a.out, "tokenizer.json"))
    metrics = {"test_per": per, "test_exact_match": em, "test_samples": len(test), "train_samples": len(train),
               "epochs": a.epochs, "train_seconds": round(time.time() - t0), "decoding": f"greedy, max_new_tokens {MAX_NEW_TOKENS}"}
    with open(os.path.join(a.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
