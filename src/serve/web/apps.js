// The Search and Ads tabs of the page of `tweetlm serve`, and the TweetEval table of its first
// tab (index.html loads this file from /apps.js; the server embeds it, like the page). They call
// the applications' routes: POST /v1/search, /v1/ads/copy, /v1/ads/safety, /v1/ads/match,
// GET /v1/eval/tweeteval (the --eval scores), and GET /v1/apps to say what this server has (a
// search index, a brand-safety classifier). Uses index.html's helpers
// ($, headers, errorText). Everything from the server is inserted as text, never as HTML: only
// the ** marks of a search snippet become <mark> elements.
'use strict';

const EXAMPLE_CAMPAIGNS = [
  { name: 'coffee', description: 'coffee shop: espresso, latte and cold brew', keywords: ['coffee', 'latte', 'espresso'],
    excluded_topics: ['accident'], language: 'en', min_safety: 0.5 },
  { name: 'football', description: 'football match tickets and team shirts', keywords: ['football', 'match', 'goal'],
    excluded_topics: [], min_safety: 0.5 },
];

async function postApp(path, body) {
  const res = await fetch(path, { method: 'POST', headers: headers(true), body: JSON.stringify(body) });
  if (!res.ok) throw new Error(await errorText(res));
  return res.json();
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

// "I love **coffee**" -> text nodes and <mark>coffee</mark>.
function snippetNodes(parent, snippet) {
  const parts = String(snippet).split('**');
  parts.forEach((part, i) => {
    if (!part) return;
    parent.appendChild(i % 2 ? el('mark', part) : document.createTextNode(part));
  });
}

function tableRows(table, head, rows) {
  table.replaceChildren();
  const tr = el('tr');
  for (const h of head) tr.appendChild(el('th', h));
  table.appendChild(tr);
  for (const r of rows) table.appendChild(r);
  table.dataset.count = String(rows.length);
}

// ------------------------------------------------------------------ search

async function runSearch() {
  const out = $('search-results');
  $('search-error').textContent = '';
  const body = { query: $('search-query').value, mode: $('search-mode').value, k: Number($('search-k').value) || 10 };
  for (const [field, id] of [['lang', 'search-lang'], ['since', 'search-since'], ['until', 'search-until']])
    if ($(id).value.trim()) body[field] = $(id).value.trim();
  const t0 = performance.now();
  $('search-button').disabled = true;
  try {
    const r = await postApp('/v1/search', body);
    out.replaceChildren();
    for (const hit of r.results) {
      const li = el('li');
      li.dataset.id = hit.id;
      const p = el('div');
      snippetNodes(p, hit.snippet || hit.text);
      li.appendChild(p);
      const meta = [`score ${Number(hit.score).toFixed(4)}`, hit.id && `id ${hit.id}`, hit.lang, hit.created_at].filter(Boolean);
      li.appendChild(el('div', meta.join(' · '), 'meta'));
      out.appendChild(li);
    }
    out.dataset.count = String(r.results.length);
    $('search-stats').textContent = `${r.results.length} results (${r.mode}) in ${Math.round(performance.now() - t0)} ms`;
  } catch (e) {
    out.replaceChildren();
    out.dataset.count = '0';
    $('search-error').textContent = e.message;
  } finally {
    $('search-button').disabled = false;
  }
}

// ------------------------------------------------------------------ ads

function lines(id) {
  return $(id).value.split('\n').map((s) => s.trim()).filter(Boolean);
}

async function runCopy() {
  $('ads-error').textContent = '';
  const body = { product: $('copy-product').value, n: Number($('copy-n').value) || 3,
                 temperature: Number($('copy-temperature').value), seed: Number($('copy-seed').value) || 0 };
  const kw = $('copy-keywords').value.split(',').map((s) => s.trim()).filter(Boolean);
  if (kw.length) body.keywords = kw;
  const out = $('copy-results');
  const t0 = performance.now();
  $('copy-button').disabled = true;
  try {
    const r = await postApp('/v1/ads/copy', body);
    out.replaceChildren();
    for (const ad of r.ads) {
      const li = el('li');
      li.dataset.length = String(ad.length);
      li.appendChild(el('div', ad.text));
      li.appendChild(el('div', `score ${Number(ad.score).toFixed(3)} · ${ad.length}/280 · ${ad.tokens} tokens` +
                                (ad.truncated ? ' · truncated' : ''), 'meta'));
      out.appendChild(li);
    }
    out.dataset.count = String(r.ads.length);
    $('copy-stats').textContent = `${r.ads.length} ads in ${Math.round(performance.now() - t0)} ms`;
  } catch (e) {
    $('ads-error').textContent = e.message;
  } finally {
    $('copy-button').disabled = false;
  }
}

async function runSafety() {
  $('ads-error').textContent = '';
  try {
    const r = await postApp('/v1/ads/safety', { input: lines('safety-input') });
    tableRows($('safety-results'), ['tweet', 'risk', 'labels'], r.results.map((x) => {
      const tr = el('tr');
      tr.dataset.risk = String(x.risk);
      tr.appendChild(el('td', x.text));
      tr.appendChild(el('td', Number(x.risk).toFixed(3), x.risk >= 0.5 ? 'risk-high' : ''));
      tr.appendChild(el('td', (x.labels || []).join(', ')));
      return tr;
    }));
  } catch (e) {
    $('ads-error').textContent = e.message;
  }
}

async function runMatch() {
  $('ads-error').textContent = '';
  let campaigns;
  try {
    campaigns = JSON.parse($('match-campaigns').value);
  } catch (e) {
    $('ads-error').textContent = `campaigns: not valid JSON: ${e.message}`;
    return;
  }
  try {
    const r = await postApp('/v1/ads/match', { campaigns, input: lines('match-input') });
    tableRows($('match-results'), ['tweet', 'campaigns (best first)', 'excluded'], r.results.map((x) => {
      const tr = el('tr');
      tr.dataset.best = x.campaigns.length ? x.campaigns[0].campaign : '';
      tr.appendChild(el('td', x.text));
      tr.appendChild(el('td', x.campaigns.map((c) => `${c.campaign} (${Number(c.score).toFixed(3)})`).join(', ') || '–'));
      tr.appendChild(el('td', (x.excluded || []).map((c) => `${c.campaign}: ${c.reason}`).join('; ')));
      return tr;
    }));
  } catch (e) {
    $('ads-error').textContent = e.message;
  }
}

// ------------------------------------------------------------------ TweetEval

// The scores of `eval tweeteval --json-out` (served from --eval): our probe, the TF-IDF baseline and
// the published rows, one row each, a column per task.
async function loadEval() {
  const res = await fetch('/v1/eval/tweeteval', { headers: headers(false), cache: 'no-store' });
  if (!res.ok) return;
  const j = await res.json();
  const tasks = ['emoji', 'emotion', 'hate', 'irony', 'offensive', 'sentiment', 'stance'];
  const rows = [];
  const row = (name, scores, all) => {
    const tr = el('tr');
    tr.appendChild(el('td', name));
    for (const t of tasks) tr.appendChild(el('td', scores && t in scores ? Number(scores[t]).toFixed(1) : '–'));
    tr.appendChild(el('td', Number.isFinite(all) ? Number(all).toFixed(1) : '–'));
    return tr;
  };
  if (j.tasks) rows.push(row(`tweetlm ${j.model} (linear probe)`, j.tasks, j.all));
  if (j.baseline) rows.push(row(j.baseline.name, j.baseline.tasks, j.baseline.all));
  for (const [name, p] of Object.entries(j.published || {})) rows.push(row(`${name} (published)`, p.tasks, p.all));
  tableRows($('eval-table'), ['model', ...tasks, 'ALL'], rows);
  $('eval-summary').textContent = j.complete ? 'test sets, official metrics (x 100)' :
    'test sets, official metrics (x 100); not every task ran: ALL is the mean of those that did';
}

async function loadAppInfo() {
  try {
    const r = await (await fetch('/v1/apps', { headers: headers(false), cache: 'no-store' })).json();
    const info = r.info || {};
    $('ads-info').textContent = info.safety ? `brand safety: ${info.safety}` :
      'no brand-safety classifier loaded (start the server with --safety FILE): safety checks are refused';
    if (!info.search) $('search-error').textContent = 'no search index loaded (start the server with --index DIR)';
    if (info.eval) await loadEval();  // asked only when there are scores: a 404 would be a console error
  } catch (e) { /* the info line is a convenience; the routes report their own errors */ }
}

$('match-campaigns').value = JSON.stringify(EXAMPLE_CAMPAIGNS, null, 1);
$('match-input').value = 'i need a latte before work\nwhat a goal in the match tonight';
$('safety-input').value = 'good morning everyone\nyou are an idiot';
$('search-button').addEventListener('click', runSearch);
$('search-query').addEventListener('keydown', (e) => { if (e.key === 'Enter') runSearch(); });
$('copy-button').addEventListener('click', runCopy);
$('safety-button').addEventListener('click', runSafety);
$('match-button').addEventListener('click', runMatch);
loadAppInfo();
