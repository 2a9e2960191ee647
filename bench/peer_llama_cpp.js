// peer_llama_cpp.js MODEL.gguf PROMPT.json DECODE THREADS REPEAT
//
// The llama.cpp peer of bench/serve, through the pinned npm client node-llama-cpp (its prebuilt
// CPU binaries, no GPU): batch-1 prefill and greedy decode on one sequence. PROMPT.json is a JSON
// array of token ids (the same prompt bench/serve feeds ours). Each run clears the KV cache,
// prefills the prompt (timed: evaluateWithoutGeneratingNewTokens, one batch), then decodes
// DECODE tokens at temperature 0 (timed: each token is one single-token evaluation plus greedy
// sampling). Run 0 warms up; the best of REPEAT timed runs is printed as one JSON line.
//
// Run it with UV_THREADPOOL_SIZE=1: node-llama-cpp evaluates on libuv's thread pool, and with the
// default pool its THREADS-thread numbers collapse on a 2-core machine.
'use strict';

const fs = require('fs');
const path = require('path');
const { pathToFileURL } = require('url');
const { clientDir, die, nowS } = require('../tests/node/common');

async function main() {
  const args = process.argv.slice(2);
  if (args.length !== 5) die(2, 'usage: peer_llama_cpp.js MODEL.gguf PROMPT.json DECODE THREADS REPEAT');
  const [modelPath, promptFile] = args;
  const [decode, threads, repeat] = args.slice(2).map(Number);
  const prompt = JSON.parse(fs.readFileSync(promptFile, 'utf8'));
  if (!Array.isArray(prompt) || prompt.length < 2) die(2, `${promptFile}: expected a JSON array of token ids`);
  // node-llama-cpp is an ES module: import it by path from the pinned install.
  const dir = clientDir('node-llama-cpp');
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const { getLlama } = await import(pathToFileURL(path.join(dir, 'dist', 'index.js')).href);
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error', maxThreads: threads });
  const model = await llama.loadModel({ modelPath });
  const contextSize = prompt.length + decode + 1;
  const context = await model.createContext({ contextSize, sequences: 1, threads, batchSize: prompt.length });
  const sequence = context.getSequence();
  let bestPrefill = 0, bestDecode = 0, generated = [];
  for (let r = 0; r <= repeat; r++) {
    await sequence.clearHistory();
    const t0 = nowS();
    await sequence.evaluateWithoutGeneratingNewTokens(prompt);
    const t1 = nowS();
    // Decoding starts by feeding the prompt's last token again (as bench/serve and
    // peer_decode.py do); each later evaluation feeds the token just sampled, so DECODE yields
    // are DECODE single-token evaluations.
    const out = [];
    const t2 = nowS();
    for await (const t of sequence.evaluate([prompt[prompt.length - 1]], { temperature: 0 })) {
      out.push(t);
      if (out.length >= decode) break;
    }
    const t3 = nowS();
    if (r === 0) continue;  // warm-up
    bestPrefill = Math.max(bestPrefill, prompt.length / (t1 - t0));
    bestDecode = Math.max(bestDecode, out.length / (t3 - t2));
    generated = out;
  }
  process.stdout.write(JSON.stringify({
    node_llama_cpp: pkg.version, threads: context.currentThreads, prefill_tokens: prompt.length,
    prefill_tokens_per_s: bestPrefill, decode_tokens: generated.length, decode_tokens_per_s: bestDecode,
  }) + '\n');
  await context.dispose();
  await model.dispose();
  await llama.dispose();
}

main().catch((e) => die(1, e && e.stack ? e.stack : String(e)));
