// llama_cpp_generate.js MODEL.gguf IN.jsonl OUT.jsonl N
//
// Runs a GGUF model in llama.cpp through the pinned npm client node-llama-cpp (its prebuilt CPU
// binaries; no GPU): for each input line (a JSON string, the prompt) writes one JSON line
// {"tokens": llama.cpp's tokenization of the prompt (no special tokens),
//  "generated": N greedy tokens (temperature 0) after [BOS] + tokens}.
// Each prompt starts from an empty KV cache. Set UV_THREADPOOL_SIZE=1 on small machines.
'use strict';

const fs = require('fs');
const { pathToFileURL } = require('url');
const path = require('path');
const { clientDir, die, readJsonLines } = require('./common');

async function main() {
  const args = process.argv.slice(2);
  if (args.length !== 4) die(2, 'usage: llama_cpp_generate.js MODEL.gguf IN.jsonl OUT.jsonl N');
  const [modelPath, inFile, outFile] = args;
  const n = Number(args[3]);
  // node-llama-cpp is an ES module: import it by path from the pinned install.
  const dir = clientDir('node-llama-cpp');
  const { getLlama } = await import(pathToFileURL(path.join(dir, 'dist', 'index.js')).href);
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
  const model = await llama.loadModel({ modelPath });
  const context = await model.createContext({ contextSize: 256, sequences: 1, threads: 1 });
  const sequence = context.getSequence();
  const bos = model.tokens.bos;
  if (bos == null) die(1, `${modelPath}: the model has no BOS token`);
  const lines = [];
  for (const prompt of readJsonLines(inFile)) {
    const tokens = prompt.length ? Array.from(model.tokenize(prompt, false)) : [];
    await sequence.clearHistory();
    const generated = [];
    if (n > 0) {
      for await (const t of sequence.evaluate([bos, ...tokens], { temperature: 0 })) {
        generated.push(t);
        if (generated.length >= n) break;
      }
    }
    lines.push(JSON.stringify({ tokens, generated }) + '\n');
  }
  fs.writeFileSync(outFile, lines.join(''));
  await context.dispose();
  await model.dispose();
  await llama.dispose();
}

main().catch((e) => die(1, e && e.stack ? e.stack : String(e)));
