// Load test of `tweetlm serve` (loopback only, bounded): CLIENTS concurrent clients, each sending
// ROUNDS requests that mix streamed and whole completions and chats with malformed requests
// (bad JSON, wrong types, negative or huge max_tokens, invalid UTF-8, unknown model, empty
// messages, oversize body, missing or wrong key, unknown route) and streams the client abandons
// after the first chunk. Every good request must get the right answer (greedy, so each prompt's
// text is known from a first request made alone), every bad one its 4xx with an OpenAI error
// body, and afterwards the server must be healthy with every slot idle and the queue empty
// (nothing leaked by cancelled streams). Prints a JSON summary; exit 1 on any failure.
//
//   node serve_load.js BASE_URL API_KEY MAX_BODY [CLIENTS=64] [ROUNDS=3]
'use strict';

const { die } = require('./common');

const [base, key, maxBodyArg, clientsArg, roundsArg] = process.argv.slice(2);
if (!base || !key || !maxBodyArg) die(2, 'usage: serve_load.js BASE_URL API_KEY MAX_BODY [CLIENTS] [ROUNDS]');
const maxBody = Number(maxBodyArg);
const CLIENTS = Number(clientsArg || 64);
const ROUNDS = Number(roundsArg || 3);
const auth = { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` };
const PROMPTS = ['the cat', 'good morning', 'rain tonight', 'we love new music', ''];
const MAX_TOKENS = 8;

const failures = [];
function fail(what) {
  failures.push(what);
}

async function post(path, body, headers = auth) {
  const res = await fetch(base + path, { method: 'POST', headers, body });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers };
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch (e) {
    return undefined;
  }
}

// A streamed completion's text (the SSE events up to [DONE]).
async function streamText(path, body) {
  const res = await fetch(base + path, { method: 'POST', headers: auth, body: JSON.stringify({ ...body, stream: true }) });
  if (res.status !== 200) return { status: res.status };
  const raw = await res.text();
  const events = raw.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
  if (events[events.length - 1] !== '[DONE]') return { status: 200, error: 'no [DONE] at the end' };
  let text = '';
  for (const ev of events.slice(0, -1)) {
    const chunk = parseJson(ev);
    if (!chunk) return { status: 200, error: 'a chunk is not JSON' };
    for (const ch of chunk.choices) text += ch.text !== undefined ? ch.text : (ch.delta.content || '');
  }
  return { status: 200, text };
}

function completionBody(prompt) {
  return { prompt, max_tokens: MAX_TOKENS, temperature: 0 };
}
function chatBody(prompt) {
  return { messages: [{ role: 'user', content: prompt }], max_tokens: MAX_TOKENS, temperature: 0 };
}

// Malformed requests and the status each must get.
const invalidUtf8 = Buffer.concat([Buffer.from('{"prompt": "bad '), Buffer.from([0xff, 0xfe]), Buffer.from('", "max_tokens": 4}')]);
const BAD = [
  ['bad JSON', '/v1/completions', '{"prompt": "x", ', 400],
  ['prompt is a number', '/v1/completions', JSON.stringify({ prompt: 42 }), 400],
  ['max_tokens negative', '/v1/completions', JSON.stringify({ prompt: 'x', max_tokens: -3 }), 400],
  ['max_tokens huge', '/v1/completions', JSON.stringify({ prompt: 'x', max_tokens: 1e12 }), 400],
  ['max_tokens a string', '/v1/completions', JSON.stringify({ prompt: 'x', max_tokens: '7' }), 400],
  ['invalid UTF-8', '/v1/completions', invalidUtf8, 400],
  ['unknown model', '/v1/completions', JSON.stringify({ model: 'gpt-17', prompt: 'x' }), 404],
  ['empty messages', '/v1/chat/completions', JSON.stringify({ messages: [] }), 400],
  ['messages not an array', '/v1/chat/completions', JSON.stringify({ messages: 'hi' }), 400],
  ['body is an array', '/v1/chat/completions', '[1, 2]', 400],
  ['temperature out of range', '/v1/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'x' }], temperature: -1 }), 400],
  ['embeddings without input', '/v1/embeddings', JSON.stringify({}), 400],
  ['token id out of range', '/v1/completions', JSON.stringify({ prompt: [1, 2, 999999] }), 400],
  ['oversize body', '/v1/completions', JSON.stringify({ prompt: 'x'.repeat(maxBody + 10) }), 413],
  ['missing key', '/v1/completions', JSON.stringify({ prompt: 'x' }), 401, { 'Content-Type': 'application/json' }],
  ['wrong key', '/v1/completions', JSON.stringify({ prompt: 'x' }), 401, { 'Content-Type': 'application/json', Authorization: 'Bearer nope' }],
  ['unknown route', '/v1/nothing', '{}', 404],
];

async function badRequest(i) {
  const [name, path, body, want, headers] = BAD[i % BAD.length];
  let r;
  try {
    r = await post(path, body, headers || auth);
  } catch (e) {
    // The server may close the connection of an oversize body before reading it all.
    if (name === 'oversize body') return;
    throw e;
  }
  const j = parseJson(r.text);
  if (r.status !== want) fail(`${name}: status ${r.status}, want ${want}: ${r.text.slice(0, 200)}`);
  else if (!j || !j.error || typeof j.error.message !== 'string') fail(`${name}: not an OpenAI error body: ${r.text.slice(0, 200)}`);
}

// A stream the client gives up on after its first chunk: the server must cancel it.
async function abandonedStream() {
  const ctl = new AbortController();
  // No max_tokens: a chat runs to the end of the context (thousands of tokens in the test's model).
  const res = await fetch(base + '/v1/chat/completions', {
    method: 'POST', headers: auth, signal: ctl.signal,
    body: JSON.stringify({ messages: [{ role: 'user', content: 'the' }], ignore_eos: true, stream: true }),
  });
  if (res.status !== 200) {
    fail(`abandoned stream: status ${res.status}`);
    return;
  }
  const reader = res.body.getReader();
  await reader.read();
  ctl.abort();
}

async function metric(name) {
  const res = await fetch(base + '/metrics', { headers: auth });
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

async function main() {
  // The expected texts, each asked alone.
  const want = {};
  for (const p of PROMPTS) {
    const c = parseJson((await post('/v1/completions', JSON.stringify(completionBody(p)))).text);
    const ch = parseJson((await post('/v1/chat/completions', JSON.stringify(chatBody(p)))).text);
    if (!c || !ch || !c.choices || !ch.choices) die(1, `the first requests failed: ${JSON.stringify([c, ch])}`);
    want[p] = { completion: c.choices[0].text, chat: ch.choices[0].message.content };
  }

  const counts = { good: 0, bad: 0, abandoned: 0, busy: 0 };
  async function client(id) {
    for (let r = 0; r < ROUNDS; r++) {
      const k = id * ROUNDS + r;
      const p = PROMPTS[k % PROMPTS.length];
      const kind = k % 5;
      if (kind === 0) {
        await badRequest(k);
        counts.bad++;
      } else if (kind === 4 && k % 3 === 0) {
        await abandonedStream();
        counts.abandoned++;
      } else {
        const chat = kind === 2 || kind === 4;
        const path = chat ? '/v1/chat/completions' : '/v1/completions';
        const body = chat ? chatBody(p) : completionBody(p);
        let text;
        if (kind === 3 || kind === 4) {
          const s = await streamText(path, body);
          if (s.status === 503) { counts.busy++; continue; }
          if (s.status !== 200 || s.error) { fail(`stream ${path} '${p}': ${s.status} ${s.error || ''}`); continue; }
          text = s.text;
        } else {
          const res = await post(path, JSON.stringify(body));
          if (res.status === 503) { counts.busy++; continue; }
          const j = parseJson(res.text);
          if (res.status !== 200 || !j) { fail(`${path} '${p}': ${res.status} ${res.text.slice(0, 200)}`); continue; }
          text = chat ? j.choices[0].message.content : j.choices[0].text;
        }
        const expect = chat ? want[p].chat : want[p].completion;
        if (text !== expect) fail(`${path} '${p}': got ${JSON.stringify(text)}, alone it was ${JSON.stringify(expect)}`);
        counts.good++;
      }
    }
  }
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));

  // Afterwards: healthy, every slot idle, nothing queued (cancelled streams free theirs).
  let busy = NaN;
  let queued = NaN;
  for (let t = 0; t < 100; t++) {
    busy = await metric('tweetlm_slots_busy');
    queued = await metric('tweetlm_queue_depth');
    if (busy === 0 && queued === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (busy !== 0 || queued !== 0) fail(`after the load: ${busy} slots busy, ${queued} requests queued`);
  const health = await fetch(base + '/health');
  if (health.status !== 200) fail(`health: ${health.status}`);
  const cancelled = await metric('tweetlm_choices_total{finish="cancelled"}');
  const summary = { ...counts, failures, cancelled, clients: CLIENTS, rounds: ROUNDS };
  process.stdout.write(JSON.stringify(summary) + '\n');
  process.exit(failures.length === 0 ? 0 : 1);
}

main().catch((e) => {
  process.stderr.write(`serve_load.js: ${e.stack || e}\n`);
  process.exit(1);
});
