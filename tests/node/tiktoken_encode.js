// tiktoken_encode.js ENCODER IN.jsonl OUT.jsonl
// tiktoken_encode.js --bench ENCODER TEXT_FILE
//
// Encodes with OpenAI's tiktoken (the pinned npm package, Rust compiled to WebAssembly).
// ENCODER is the name of an encoding the package ships (gpt2, r50k_base, cl100k_base, ...) or the
// path of a JSON file of the same shape as its encoders/*.json:
//   {"bpe_ranks": "<base64 token> <rank>\n...", "special_tokens": {"<|endoftext|>": 0}, "pat_str": "..."}
// which is how the tests hand it a vocabulary we trained. Each input line is one JSON string,
// each output line the JSON array of its ids. Special tokens in the text are encoded as special
// tokens (allowed_special = "all"), which is what HF tokenizers does with added tokens.
//
// --bench: encodes the plain text file in chunks of ~1 MB cut at line ends (tiktoken is fastest
// on long strings; the 5.9 MB/s was measured on a whole file) and prints {"bytes",
// "seconds", "tokens", "max_rss_kb"} as JSON, encoding time only. The WebAssembly build runs on
// one thread.
'use strict';

const fs = require('fs');
const path = require('path');
const { requireClient, clientDir, die, readJsonLines, writeIdLines, nowS } = require('./common');

function loadEncoder(spec) {
  const { Tiktoken } = requireClient('tiktoken/lite');
  const file = fs.existsSync(spec) ? spec : path.join(clientDir('tiktoken'), 'encoders', spec + '.json');
  if (!fs.existsSync(file)) die(2, `no tiktoken encoding or file named '${spec}'`);
  const enc = JSON.parse(fs.readFileSync(file, 'utf8'));
  return new Tiktoken(enc.bpe_ranks, enc.special_tokens, enc.pat_str);
}

function chunks(text, size) {
  const out = [];
  for (let i = 0; i < text.length;) {
    let j = Math.min(text.length, i + size);
    if (j < text.length) {
      const nl = text.indexOf('\n', j);
      j = nl < 0 ? text.length : nl + 1;
    }
    out.push(text.slice(i, j));
    i = j;
  }
  return out;
}

function main() {
  const args = process.argv.slice(2);
  const bench = args[0] === '--bench';
  if (bench) args.shift();
  if (args.length !== (bench ? 2 : 3)) {
    die(2, 'usage: tiktoken_encode.js ENCODER IN.jsonl OUT.jsonl | tiktoken_encode.js --bench ENCODER TEXT_FILE');
  }
  const enc = loadEncoder(args[0]);
  if (bench) {
    const text = fs.readFileSync(args[1], 'utf8');
    const parts = chunks(text, 1 << 20);
    enc.encode(parts[0].slice(0, 65536), 'all');  // warm-up
    const t0 = nowS();
    let tokens = 0;
    for (const p of parts) tokens += enc.encode(p, 'all').length;
    const seconds = nowS() - t0;
    const bytes = Buffer.byteLength(text, 'utf8');
    process.stdout.write(JSON.stringify({ bytes, seconds, tokens, max_rss_kb: process.resourceUsage().maxRSS }) + '\n');
  } else {
    writeIdLines(args[2], readJsonLines(args[1]).map((t) => enc.encode(t, 'all')));
  }
  enc.free();
}

try {
  main();
} catch (e) {
  die(1, e && e.stack ? e.stack : String(e));
}
