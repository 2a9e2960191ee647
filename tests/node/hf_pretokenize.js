// hf_pretokenize.js IN.jsonl OUT.jsonl
//
// Runs only Hugging Face's ByteLevel pre-tokenizer (add_prefix_space = false, use_regex = true:
// the GPT-2 regex, with HF's Unicode tables) on each input line (a JSON string) and writes the
// byte lengths of its pieces as one JSON array per line. Tests use it to tell a pre-tokenization
// difference (character classes, whitespace rules) from a merge difference.
'use strict';

const { requireClient, die, readJsonLines } = require('./common');
const fs = require('fs');

function main() {
  if (process.argv.length !== 4) die(2, 'usage: hf_pretokenize.js IN.jsonl OUT.jsonl');
  const { byteLevelPreTokenizer } = requireClient('@anush008/tokenizers');
  const pre = byteLevelPreTokenizer(false, true);
  const out = readJsonLines(process.argv[2]).map((text) => {
    // Each piece is spelled in the byte-level alphabet: one BMP character per byte.
    const lengths = pre.preTokenizeString(text).map(([piece]) => piece.length);
    return '[' + lengths.join(',') + ']\n';
  });
  fs.writeFileSync(process.argv[3], out.join(''));
}

try {
  main();
} catch (e) {
  die(1, e && e.stack ? e.stack : String(e));
}
