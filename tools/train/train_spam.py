"""Train the spam-filter demo model: a 4-layer BERT (hidden 128) on the SpamAssassin split made by
prepare_spam.py, tokenized by `kiln tokenize` with the bert-base-uncased vocabulary (128 tokens).
Writes a Hugging Face checkpoint folder: config.json, model.safetensors, tokenizer_config.json,
metrics.json (test accuracy measured here by PyTorch). Fixed seeds; CPU only.
Usage: train_spam.py --data DIR --tokenizer DIR --kiln BIN --out DIR [--epochs N]"""
import argparse
import json
import os
import random
import subprocess
import time

import torch

from bert_model import BertForSequenceClassification
from safetensors_io import save_safetensors

MAX_LEN = 96
LABELS = ["ham", "spam"]


def config():
    return {
        "architectures": ["BertForSequenceClassification"], "model_type": "bert",
        "vocab_size": 30522, "hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4,
        "intermediate_size": 512, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": MAX_LEN, "type_vocab_size": 2,
        "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
        "position_embedding_type": "absolute", "problem_type": "single_label_classification",
        "id2label": {str(i): l for i, l in enumerate(LABELS)}, "label2id": {l: i for i, l in enumerate(LABELS)},
        "torch_dtype": "float32",
    }


def tokenize(kiln, tokenizer_dir, texts):
    p = subprocess.run([kiln, "tokenize", tokenizer_dir, "--json", "--max-length", str(MAX_LEN)],
                       input="\n".join(texts) + "\n", capture_output=True, text=True, check=True)
    rows = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    assert len(rows) == len(texts), f"kiln tokenize returned {len(rows)} rows for {len(texts)} texts"
    return [r["input_ids"] for r in rows]


def batches(ids, labels, size, shuffle, rng):
    order = list(range(len(ids)))
    if shuffle:
        rng.shuffle(order)
    for i in range(0, len(order), size):
        idx = order[i:i + size]
        n = max(len(ids[j]) for j in idx)
        x = torch.zeros(len(idx), n, dtype=torch.long)
        m = torch.zeros(len(idx), n, dtype=torch.long)
        for r, j in enumerate(idx):
            x[r, :len(ids[j])] = torch.tensor(ids[j])
            m[r, :len(ids[j])] = 1
        yield x, m, torch.tensor([labels[j] for j in idx])


def evaluate(model, ids, labels):
    model.eval()
    preds = []
    with torch.no_grad():
        for x, m, _ in batches(ids, labels, 64, False, None):
            preds += model(x, m, torch.zeros_like(x)).argmax(-1).tolist()
    right = sum(int(p == y) for p, y in zip(preds, labels))
    confusion = [[sum(1 for p, y in zip(preds, labels) if y == a and p == b) for b in range(2)] for a in range(2)]
    return right / len(labels), confusion


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.manual_seed(1234)
    torch.set_num_threads(a.threads)
    rng = random.Random(1234)
    load = lambda s: [json.loads(l) for l in open(os.path.join(a.data, f"{s}.jsonl"))]
    train, test = load("train"), load("test")
    tr_ids, te_ids = tokenize(a.kiln, a.tokenizer, [r["text"] for r in train]), tokenize(a.kiln, a.tokenizer, [r["text"] for r in test])
    tr_y, te_y = [LABELS.index(r["label"]) for r in train], [LABELS.index(r["label"]) for r in test]

    c = config()
    model = BertForSequenceClassification(c)
    steps = a.epochs * ((len(tr_ids) + 31) // 32)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / (0.1 * steps), max(0.0, (steps - s) / (0.9 * steps))))
    step, t0 = 0, time.time()
    for epoch in range(a.epochs):
        model.train()
        for x, m, y in batches(tr_ids, tr_y, 32, True, rng):
            loss = torch.nn.functional.cross_entropy(model(x, m, torch.zeros_like(x)), y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            if step % 20 == 0:
                print(f"epoch {epoch} step {step}/{steps} loss {loss.item():.4f} {time.time() - t0:.0f}s", flush=True)
        acc, conf = evaluate(model, te_ids, te_y)
        print(f"epoch {epoch}: test accuracy {acc:.4f} confusion {conf}", flush=True)

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
    save_safetensors(model.state_dict(), os.path.join(a.out, "model.safetensors"))
    with open(os.path.join(a.out, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": MAX_LEN}, f, indent=2)
    metrics = {"test_accuracy": acc, "test_samples": len(te_y), "confusion": conf, "labels": LABELS,
               "train_samples": len(tr_y), "epochs": a.epochs, "train_seconds": round(time.time() - t0)}
    with open(os.path.join(a.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
