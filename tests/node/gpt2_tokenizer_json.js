// gpt2_tokenizer_json.js OUT.json
//
// Builds a Hugging Face tokenizer.json for GPT-2 from the public ranks the pinned `tiktoken`
// package ships (node_modules/tiktoken/encoders/gpt2.json), so the exactness tests can run
// ours, HF tokenizers and tiktoken on the same vocabulary without downloading anything.
//
// vocab: the byte-level spelling of each token's bytes -> its rank (GPT-2's ids are its ranks).
// merges: one per token of >= 2 bytes, in rank order (GPT-2's own merges.txt has this shape,
// 50000 of them); which split of the token is its merge is explained at lastSplit below.
// <|endoftext|> (50256) is in the vocab, as in GPT-2's own tokenizer.json, and an added special
// token. Whether this reproduces tiktoken on real text is what the C++ tests check.
'use strict';

const fs = require('fs');
const path = require('path');
const { clientDir, die } = require('./common');

// GPT-2's byte -> printable character table (bytes_to_unicode in openai/gpt-2 encoder.py).
function byteLevelTable() {
  const bs = [];
  for (let b = 33; b <= 126; ++b) bs.push(b);
  for (let b = 161; b <= 172; ++b) bs.push(b);
  for (let b = 174; b <= 255; ++b) bs.push(b);
  const table = new Array(256);
  for (const b of bs) table[b] = String.fromCodePoint(b);
  let n = 0;
  for (let b = 0; b < 256; ++b) if (table[b] === undefined) table[b] = String.fromCodePoint(256 + n++);
  return table;
}

// tiktoken's rank text: either "BASE64 RANK" lines, or the packed form its encoders/*.json use:
// "! OFFSET TOK TOK ..." (consecutive ranks from OFFSET). Returns [Buffer, rank] pairs.
function parseRanks(text) {
  const out = [];
  const words = text.split(/\s+/).filter((w) => w.length > 0);
  if (words[0] === '!') {
    let rank = Number(words[1]);
    for (let i = 2; i < words.length; ++i) out.push([Buffer.from(words[i], 'base64'), rank++]);
  } else {
    for (let i = 0; i + 1 < words.length; i += 2) out.push([Buffer.from(words[i], 'base64'), Number(words[i + 1])]);
  }
  return out;
}

function main() {
  const args = process.argv.slice(2);
  let rule = 'bpe';
  if (args[0] === '--rule') {
    rule = args[1];
    args.splice(0, 2);
  }
  if (args.length !== 1 || (rule !== 'bpe' && rule !== 'lowest-max')) {
    die(2, 'usage: gpt2_tokenizer_json.js [--rule bpe|lowest-max] OUT.json');
  }
  const out = args[0];
  const enc = JSON.parse(fs.readFileSync(path.join(clientDir('tiktoken'), 'encoders', 'gpt2.json'), 'utf8'));
  const ranks = parseRanks(enc.bpe_ranks).sort((a, b) => a[1] - b[1]);
  const table = byteLevelTable();
  const spell = (buf) => {
    let s = '';
    for (const b of buf) s += table[b];
    return s;
  };

  const rankOf = new Map();  // latin1 key of the bytes -> rank
  for (const [buf, rank] of ranks) {
    const key = buf.toString('latin1');
    if (rankOf.has(key)) die(1, `duplicate token bytes at rank ${rank}`);
    rankOf.set(key, rank);
  }

  // The merge that made a token is the last step of tiktoken's own merge loop run on the token's
  // bytes with the lower ranks only: it ends in exactly two parts (minbpe's recover_merges).
  // Only this reproduces tiktoken: HF merges by pair rank, so it needs the very pair that loop
  // reaches. The tempting rule "the split whose larger rank is lowest" disagrees for 3989 GPT-2
  // tokens, common ones included (" her": BPE ends in " he"+"r", the rule says " h"+"er", and HF
  // then stops at [" he", "r"]); `--rule lowest-max` builds that variant to show it.
  const lastSplit = (key, rank) => {
    const parts = Array.from(key);
    for (;;) {
      let bi = -1, br = rank;
      for (let i = 0; i + 1 < parts.length; ++i) {
        const r = rankOf.get(parts[i] + parts[i + 1]);
        if (r !== undefined && r < br) [bi, br] = [i, r];
      }
      if (bi < 0) break;
      parts.splice(bi, 2, parts[bi] + parts[bi + 1]);
    }
    return parts.length === 2 ? parts[0].length : -1;
  };
  const lowestMaxSplit = (key) => {
    let best = -1, bestMax = Infinity;
    for (let i = 1; i < key.length; ++i) {
      const l = rankOf.get(key.slice(0, i)), r = rankOf.get(key.slice(i));
      if (l !== undefined && r !== undefined && Math.max(l, r) < bestMax) [best, bestMax] = [i, Math.max(l, r)];
    }
    return best;
  };
  const merges = [];
  let differ = 0;
  for (const [buf, rank] of ranks) {
    if (buf.length < 2) continue;
    const key = buf.toString('latin1');
    const bpe = lastSplit(key, rank), lowest = lowestMaxSplit(key);
    if (bpe < 0) die(1, `token of rank ${rank}: BPE on its bytes does not end in two lower-ranked parts`);
    if (bpe !== lowest) differ++;
    const split = rule === 'bpe' ? bpe : lowest;
    merges.push(spell(buf.subarray(0, split)) + ' ' + spell(buf.subarray(split)));
  }

  const specials = Object.entries(enc.special_tokens);
  // Written by hand rather than JSON.stringify(object): JS objects put integer-like keys ("0",
  // "1", ...) first, and a vocab in rank order is easier to read and diff.
  const vocab = ranks.map(([buf, rank]) => JSON.stringify(spell(buf)) + ': ' + rank);
  for (const [content, id] of specials) vocab.push(JSON.stringify(content) + ': ' + id);
  const added = specials.map(([content, id]) => JSON.stringify({
    id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));
  const byteLevel = (prefix, trim) =>
    `{"type": "ByteLevel", "add_prefix_space": ${prefix}, "trim_offsets": ${trim}, "use_regex": true}`;
  const json = [
    '{',
    '  "version": "1.0",',
    '  "truncation": null,',
    '  "padding": null,',
    `  "added_tokens": [${added.join(', ')}],`,
    '  "normalizer": null,',
    `  "pre_tokenizer": ${byteLevel(false, true)},`,
    `  "post_processor": ${byteLevel(true, false)},`,
    `  "decoder": ${byteLevel(true, true)},`,
    '  "model": {',
    '    "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": "",',
    '    "end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,',
    '    "vocab": {\n      ' + vocab.join(',\n      ') + '\n    },',
    '    "merges": [\n      ' + merges.map((m) => JSON.stringify(m)).join(',\n      ') + '\n    ]',
    '  }',
    '}',
    '',
  ].join('\n');
  fs.writeFileSync(out, json);
  process.stderr.write(`gpt2_tokenizer_json: ${ranks.length + specials.length} tokens, ${merges.length} merges ` +
                       `(rule ${rule}; the two rules differ on ${differ} tokens) -> ${out}\n`);
}

main();
