// hf_encode.js TOKENIZER_JSON IN.jsonl OUT.jsonl
// hf_encode.js --bench TOKENIZER_JSON TEXT_FILE
//
// Encodes with Hugging Face tokenizers (the pinned native binding @anush008/tokenizers) loading
// TOKENIZER_JSON: each input line is one JSON string, each output line the JSON array of its ids,
// encoded with add_special_tokens = false (no post-processor tokens; added tokens such as
// <|endoftext|> inside the text are still split out, as in any HF encode).
//
// --bench: encodes the non-empty lines of a plain text file with encodeBatch (batches of 4096
// lines) and prints {"bytes", "seconds", "tokens", "max_rss_kb"} as JSON; the time covers
// encoding only, not loading. HF parallelizes a batch over rayon threads: RAYON_NUM_THREADS (or
// TOKENIZERS_PARALLELISM=false) sets how many.
'use strict';

const { requireClient, die, readJsonLines, writeIdLines, readTextLines, nowS } = require('./common');

const kBatch = 4096;

// Calls sink(ids) for each text, in order.
async function encodeAll(tok, texts, sink) {
  for (let i = 0; i < texts.length; i += kBatch) {
    const encs = await tok.encodeBatch(texts.slice(i, i + kBatch), { addSpecialTokens: false });
    for (const e of encs) sink(e.getIds());
  }
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
    await encodeAll(tok, lines.slice(0, Math.min(lines.length, kBatch)), () => {});  // warm-up
    let tokens = 0;
    const t0 = nowS();
    await encodeAll(tok, lines, (ids) => { tokens += ids.length; });
    const seconds = nowS() - t0;
    process.stdout.write(JSON.stringify({ bytes, seconds, tokens, max_rss_kb: process.resourceUsage().maxRSS }) + '\n');
    return;
  }
  const rows = [];
  await encodeAll(tok, readJsonLines(args[1]), (ids) => rows.push(ids));
  writeIdLines(args[2], rows);
}

main().catch((e) => die(1, e && e.stack ? e.stack : String(e)));
