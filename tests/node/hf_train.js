// hf_train.js OUT.json VOCAB_SIZE FILE...
//
// Trains a byte-level BPE with Hugging Face tokenizers (the pinned binding @anush008/tokenizers)
// on plain text files and saves its tokenizer.json: the GPT-2 set-up (ByteLevel pre-tokenizer
// with add_prefix_space = false and the GPT-2 regex, ByteLevel decoder), <|endoftext|> added as
// a special token after training (so it takes the id after the learned vocabulary).
//
// The binding's train() always runs the model's default trainer: BpeTrainer::default(), i.e.
// vocab_size 30000, min_frequency 0, no initial alphabet (only bytes seen in the text become
// tokens). So the training itself is always to 30000; a smaller VOCAB_SIZE then keeps the first
// VOCAB_SIZE - 1 tokens and the merges among them, which is exactly what training with that
// vocab_size would have given (BPE's merges come in the same order whatever the target size).
// Prints {"train_seconds", "vocab_size", "merges", "max_rss_kb"} as JSON; the time covers train()
// only, the peak RSS the whole process.
'use strict';

const fs = require('fs');
const { requireClient, die, nowS } = require('./common');

const kTrainedVocab = 30000;
const kEos = '<|endoftext|>';

function emptyByteLevelBpe() {
  const byteLevel = (prefix, trim) => ({ type: 'ByteLevel', add_prefix_space: prefix, trim_offsets: trim, use_regex: true });
  return JSON.stringify({
    version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null,
    pre_tokenizer: byteLevel(false, true), post_processor: byteLevel(true, false), decoder: byteLevel(true, true),
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: {}, merges: [],
    },
  });
}

// Keeps tokens with id < keep and the merges (a prefix of the list) that stay inside them; the
// special token moves to id `keep`.
function cut(json, keep) {
  const model = json.model;
  const vocab = {};
  for (const [tok, id] of Object.entries(model.vocab)) if (id < keep) vocab[tok] = id;
  const merges = [];
  for (const m of model.merges) {
    const [a, b] = Array.isArray(m) ? m : m.split(' ');
    if (!(a in vocab) || !(b in vocab) || !((a + b) in vocab)) break;
    merges.push(m);
  }
  model.vocab = vocab;
  model.merges = merges;
  json.added_tokens = json.added_tokens.map((t) => ({ ...t, id: keep }));
  return json;
}

function main() {
  const args = process.argv.slice(2);
  if (args.length < 3) die(2, 'usage: hf_train.js OUT.json VOCAB_SIZE FILE...');
  const [out, vocabArg, ...files] = args;
  const vocabSize = Number(vocabArg);
  if (!Number.isInteger(vocabSize) || vocabSize < 2 || vocabSize > kTrainedVocab + 1) {
    die(2, `VOCAB_SIZE must be an integer in 2..${kTrainedVocab + 1} (the binding trains to ${kTrainedVocab})`);
  }
  for (const f of files) if (!fs.existsSync(f)) die(2, `${f}: no such file`);
  const { Tokenizer } = requireClient('@anush008/tokenizers');
  const tok = Tokenizer.fromString(emptyByteLevelBpe());
  const t0 = nowS();
  tok.train(files);
  const seconds = nowS() - t0;
  tok.addSpecialTokens([kEos]);
  tok.save(out, false);
  let json = JSON.parse(fs.readFileSync(out, 'utf8'));
  if (vocabSize - 1 < Object.keys(json.model.vocab).length) {
    json = cut(json, vocabSize - 1);
    fs.writeFileSync(out, JSON.stringify(json));
  }
  process.stdout.write(JSON.stringify({
    train_seconds: seconds, vocab_size: Object.keys(json.model.vocab).length + json.added_tokens.length,
    merges: json.model.merges.length, max_rss_kb: process.resourceUsage().maxRSS,
  }) + '\n');
}

try {
  main();
} catch (e) {
  die(1, e && e.stack ? e.stack : String(e));
}
