// `tweetlm serve` driven by the official OpenAI Node client (npm `openai`, pinned in
// tools/node/package.json): models, completions and chat (whole and streamed), embeddings (the
// client asks for base64 by default and decodes it; float asked explicitly), logprobs, n, and
// the errors the client maps to its exception classes. Prints one JSON object of what it saw;
// tests/test_serve.cpp compares it with the library's own generation. Exit 1 on any surprise.
//
//   node openai_client.js BASE_URL API_KEY PROMPT MAX_TOKENS
'use strict';

const { requireClient, die } = require('./common');
const OpenAI = requireClient('openai');

const [baseURL, apiKey, prompt, maxTokensArg] = process.argv.slice(2);
if (!baseURL || !apiKey || prompt === undefined || !maxTokensArg) die(2, 'usage: openai_client.js BASE_URL API_KEY PROMPT MAX_TOKENS');
const maxTokens = Number(maxTokensArg);

const client = new OpenAI({ baseURL: baseURL + '/v1', apiKey, maxRetries: 0, timeout: 60000 });

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
}

// The status of the APIError `fn` throws (or 0 when it does not throw).
async function errorStatus(fn) {
  try {
    await fn();
    return 0;
  } catch (e) {
    if (!(e instanceof OpenAI.APIError)) throw e;
    check(e.error && typeof e.error.message === 'string' && e.error.message.length > 0, 'error has a message');
    return e.status;
  }
}

async function main() {
  const out = {};
  const models = await client.models.list();
  out.models = models.data.map((m) => m.id);
  const model = out.models[0];

  // Completions: whole, then streamed; greedy, so both must give the same text.
  const c = await client.completions.create({ model, prompt, max_tokens: maxTokens, temperature: 0 });
  out.completion = { text: c.choices[0].text, finish_reason: c.choices[0].finish_reason, usage: c.usage };
  let streamed = '';
  let chunks = 0;
  let finish = null;
  const cs = await client.completions.create({ model, prompt, max_tokens: maxTokens, temperature: 0, stream: true });
  for await (const chunk of cs) {
    chunks++;
    streamed += chunk.choices[0].text;
    if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
  }
  out.completion_stream = { text: streamed, chunks, finish_reason: finish };

  // Logprobs (top 3) and n = 2 with a seed.
  const lp = await client.completions.create({ model, prompt, max_tokens: 4, temperature: 0, logprobs: 3 });
  out.logprobs = lp.choices[0].logprobs;
  const n2 = await client.completions.create({ model, prompt, max_tokens: 6, temperature: 1, n: 2, seed: 7 });
  out.n2 = n2.choices.map((ch) => ({ index: ch.index, text: ch.text }));

  // Chat: whole and streamed, with usage in the last chunk.
  const messages = [
    { role: 'system', content: 'You write tweets.' },
    { role: 'user', content: prompt },
  ];
  const chat = await client.chat.completions.create({ model, messages, max_tokens: maxTokens, temperature: 0 });
  out.chat = { content: chat.choices[0].message.content, role: chat.choices[0].message.role,
               finish_reason: chat.choices[0].finish_reason, usage: chat.usage };
  let chatStreamed = '';
  let usage = null;
  let role = null;
  const chs = await client.chat.completions.create({ model, messages, max_tokens: maxTokens, temperature: 0, stream: true,
                                                     stream_options: { include_usage: true } });
  for await (const chunk of chs) {
    if (chunk.usage) usage = chunk.usage;
    for (const ch of chunk.choices) {
      if (ch.delta.role) role = ch.delta.role;
      if (ch.delta.content) chatStreamed += ch.delta.content;
    }
  }
  out.chat_stream = { content: chatStreamed, role, usage };

  // Embeddings: the client's default (base64, decoded by the client) and float must agree.
  const input = ['the cat sat on the mat', 'rain tonight'];
  const e64 = await client.embeddings.create({ model, input });
  const ef = await client.embeddings.create({ model, input, encoding_format: 'float' });
  out.embeddings = { base64: e64.data.map((d) => Array.from(d.embedding)), float: ef.data.map((d) => d.embedding),
                     usage: ef.usage };

  // Errors, as the client reports them.
  const bad = new OpenAI({ baseURL: baseURL + '/v1', apiKey: 'wrong-key', maxRetries: 0 });
  out.errors = {
    wrong_key: await errorStatus(() => bad.models.list()),
    unknown_model: await errorStatus(() => client.completions.create({ model: 'no-such-model', prompt: 'x' })),
    negative_max_tokens: await errorStatus(() => client.completions.create({ model, prompt: 'x', max_tokens: -5 })),
    empty_messages: await errorStatus(() => client.chat.completions.create({ model, messages: [] })),
    bad_role: await errorStatus(() => client.chat.completions.create({ model, messages: [{ role: 'wizard', content: 'x' }] })),
    temperature: await errorStatus(() => client.completions.create({ model, prompt: 'x', temperature: 5 })),
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`openai_client.js: ${e.stack || e}\n`);
  process.exit(1);
});
