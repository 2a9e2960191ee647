// hf_encode.js TOKENIZER_JSON IN.jsonl OUT.jsonl
// hf_encode.js --bench TOKENIZER_JSON TEXT_FILE
//
// Encodes with Hugging Face tokenizers (the pinned native binding @anush008/tokenizers) loading
// TOKENIZER_JSON: each input line is one JSON string, each output line the JSON array of its ids,
// encoded with add_special_tokens = false (no post-processor tokens; added tokens such as
// <|endoftext|> inside the text are still split out, as in any HF encode).
//
// --bench: encodes the non-empty lines of a plain text file with encodeBatch (batches of 4096
// lines) and prints {"bytes", "seconds", "tokens"} as JSON; the time covers encoding only, not
// loading. HF parallelizes a batch over rayon threads: RAYON_NUM_THREADS (or
// TOKENIZERS_PARALLELISM=false) sets how many.
'use strict';

const fs = require('fs');
const { requireClient, die, readJsonLines, writeIdLines, readTextLines, nowS } = require('./common');

const kBatch = 4096;

async function encodeAll(tok, texts) {
  const out = [];
  for (let i = 0; i < texts.length; i += kBatch) {
    const encs = await tok.encodeBatch(texts.slice(i, i + kBatch), { addSpecialTokens: false });
    for (const e of encs) out.push(e.getIds());
  }
  return out;
}

async function main() {
  const args = process.argv.slice(2);
  const bench = args[0] === '--bench';
  if (bench) args.shift();
  if (args.length !== (bench ? 2 : 3)) {
    die(2, 'usage: hf_encode.js TOKENIZER_JSON IN.jsonl OUT.jsonl | hf_encode.js --bench TOKENIZER_JSON TEXT_FILE');
  }
  const { Tokenizer } = requireClient('@anush008/tokenizers');
  const tok = Tokenizer.fromFile(args[0]);
  if (bench) {
    const lines = readTextLines(args[1]);
    const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l, 'utf8'), 0);
    await encodeAll(tok, lines.slice(0, Math.min(lines.length, kBatch)));  // warm-up
    const t0 = nowS();
    const ids = await encodeAll(tok, lines);
    const seconds = nowS() - t0;
    const tokens = ids.reduce((n, a) => n + a.length, 0);
    process.stdout.write(JSON.stringify({ bytes, seconds, tokens }) + '\n');
    return;
  }
  writeIdLines(args[2], await encodeAll(tok, readJsonLines(args[1])));
}

main().catch((e) => die(1, e && e.stack ? e.stack : String(e)));
