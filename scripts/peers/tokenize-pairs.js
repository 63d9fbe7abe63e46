#!/usr/bin/env node
// Sentence-pair encodings from the JavaScript port of Hugging Face tokenizers, for kiln's tests.
//   node tokenize-pairs.js TOKENIZER_DIR PAIRS.jsonl OUT.jsonl [--no-special]
// PAIRS.jsonl: one {"text": ..., "text_pair": ...} object a line. OUT.jsonl gets, for each, the
// input object plus input_ids, tokens, attention_mask and token_type_ids as encode(text,
// {text_pair}) returns them (the tokenizer's post-processor decides the special tokens and type ids).
// @huggingface/tokenizers gives no character offsets, so none are written.
const fs = require('fs');
const path = require('path');

(async () => {
  const args = process.argv.slice(2);
  const special = !args.includes('--no-special');
  const pos = args.filter((a) => a !== '--no-special');
  if (pos.length !== 3) {
    console.error('usage: node tokenize-pairs.js TOKENIZER_DIR PAIRS.jsonl OUT.jsonl [--no-special]');
    process.exit(2);
  }
  const [dir, input, output] = pos;
  const tj = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
  const cfgPath = path.join(dir, 'tokenizer_config.json');
  const tc = fs.existsSync(cfgPath) ? JSON.parse(fs.readFileSync(cfgPath, 'utf8')) : {};
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const tok = new Tokenizer(tj, tc);
  const out = [];
  for (const line of fs.readFileSync(input, 'utf8').split('\n')) {
    if (!line) continue;
    const p = JSON.parse(line);
    const e = tok.encode(p.text, { text_pair: p.text_pair, add_special_tokens: special, return_token_type_ids: true });
    out.push(JSON.stringify({
      text: p.text, text_pair: p.text_pair, input_ids: e.ids, tokens: e.tokens,
      attention_mask: e.attention_mask, token_type_ids: e.token_type_ids,
    }));
  }
  fs.writeFileSync(output, out.join('\n') + '\n');
  console.error(`@huggingface/tokenizers: ${out.length} pairs -> ${output}`);
})().catch((e) => { console.error(e); process.exit(1); });
