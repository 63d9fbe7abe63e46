#!/usr/bin/env node
// Times @huggingface/tokenizers (the JS reference) encoding every line of LINES.txt, single thread.
//   node tokenize-bench.js PEERS_DIR TOKENIZER_DIR LINES.txt
// Prints one JSON line: {"tokens": N, "seconds": S} (best of 3 passes after a warm-up).
const fs = require('fs');
const path = require('path');
(async () => {
  const [peers, dir, file] = process.argv.slice(2);
  const { Tokenizer } = await import(path.join(path.resolve(peers), 'node_modules/@huggingface/tokenizers/dist/tokenizers.mjs'));
  const tj = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
  const cp = path.join(dir, 'tokenizer_config.json');
  const tok = new Tokenizer(tj, fs.existsSync(cp) ? JSON.parse(fs.readFileSync(cp, 'utf8')) : {});
  let s = fs.readFileSync(file, 'utf8');
  if (s.endsWith('\n')) s = s.slice(0, -1);
  const lines = s.split('\n');
  for (let i = 0; i < Math.min(200, lines.length); i++) tok.encode(lines[i]);
  let best = Infinity, tokens = 0;
  for (let rep = 0; rep < 3; rep++) {
    const t0 = process.hrtime.bigint();
    let n = 0;
    for (const l of lines) n += tok.encode(l).ids.length;
    const sec = Number(process.hrtime.bigint() - t0) / 1e9;
    if (sec < best) { best = sec; tokens = n; }
  }
  console.log(JSON.stringify({ tokens, seconds: best }));
})().catch((e) => { console.error(String(e)); process.exit(1); });
