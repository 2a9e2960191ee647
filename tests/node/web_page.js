// Drives the web page of `tweetlm serve` in headless Debian chromium (npm playwright-core) as a
// user would, for tests/test_serve_web.cpp:
//
//   node tests/node/web_page.js URL OUT_DIR [--prompt TEXT] [--max-tokens N] [--api-key KEY]
//                               [--metrics-file metrics.jsonl]
//
// Opens URL, sets temperature 0 and max_tokens, types the prompt, clicks Generate, waits for the
// stream to end, and reads the charts of the training run (drawn from the server's --run; with
// --metrics-file also from that file picked in the page's file input). Prints one JSON object on
// stdout: the streamed text, the stats line, the points per chart series, the server panel; and
// writes OUT_DIR/web_page.png. Exits 1 on any failure, including an error in the page's console;
// 3 when playwright-core or chromium is missing (naming scripts/setup.sh).
'use strict';

const fs = require('fs');
const path = require('path');
const { openBrowserPage, runMain, failOnProblems, die } = require('./common');

const TIMEOUT_MS = 60000;

function parseArgs(argv) {
  const a = { prompt: 'the cat', maxTokens: 16, apiKey: '', metricsFile: '' };
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) die(2, `${flag} needs a value`);
      return argv[++i];
    };
    if (flag === '--prompt') a.prompt = value();
    else if (flag === '--max-tokens') a.maxTokens = Number(value());
    else if (flag === '--api-key') a.apiKey = value();
    else if (flag === '--metrics-file') a.metricsFile = value();
    else if (flag.startsWith('--')) die(2, `unknown flag ${flag}`);
    else pos.push(flag);
  }
  if (pos.length !== 2) die(2, 'usage: web_page.js URL OUT_DIR [--prompt TEXT] [--max-tokens N] [--api-key KEY] [--metrics-file F]');
  [a.url, a.outDir] = pos;
  return a;
}

// Points drawn per series of each chart: {"chart-loss": {"loss": 30, "val_loss": 3}, ...}.
async function chartPoints(page) {
  return page.evaluate(() => {
    const out = {};
    for (const svg of document.querySelectorAll('svg.chart')) {
      out[svg.id] = {};
      for (const p of svg.querySelectorAll('path[data-series]')) out[svg.id][p.dataset.series] = Number(p.dataset.points);
    }
    return out;
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  fs.mkdirSync(args.outDir, { recursive: true });
  const { browser, page, problems } = await openBrowserPage(args.apiKey, TIMEOUT_MS);
  try {
    await page.goto(args.url);
    // The server panel filled from /v1/models and /metrics, and the run's charts drawn.
    await page.waitForFunction(() => document.getElementById('server-model').textContent !== '–' &&
                                     document.getElementById('server-slots').textContent !== '–');
    await page.waitForSelector('#chart-loss path[data-series="loss"]', { state: 'attached' });
    const serverCharts = await chartPoints(page);

    await page.fill('#temperature', '0');
    await page.fill('#max-tokens', String(args.maxTokens));
    await page.selectOption('#mode', 'completion');
    await page.click('#prompt');
    await page.keyboard.type(args.prompt);
    await page.click('#generate');
    await page.waitForFunction(() => document.getElementById('output').dataset.state !== 'running' &&
                                     document.getElementById('run-stats').textContent !== '');
    const state = await page.getAttribute('#output', 'data-state');
    const text = await page.textContent('#output-text');
    const stats = await page.textContent('#run-stats');
    const tokens = Number(await page.getAttribute('#run-stats', 'data-tokens'));
    const runError = await page.textContent('#run-error');
    if (state !== 'done') problems.push(`generation ended '${state}': ${runError}`);

    let fileCharts = null;
    if (args.metricsFile) {
      // The same run picked as a local file: cleared first, so the counts come from the file.
      await page.evaluate(() => document.querySelectorAll('svg.chart').forEach((s) => s.replaceChildren()));
      await page.setInputFiles('#metrics-file', args.metricsFile);
      await page.waitForSelector('#chart-loss path[data-series="loss"]', { state: 'attached' });
      fileCharts = await chartPoints(page);
    }
    const server = await page.evaluate(() => Object.fromEntries(
      ['model', 'context', 'slots', 'queue'].map((k) => [k, document.getElementById('server-' + k).textContent])));
    const summary = await page.textContent('#metrics-summary');
    const screenshot = path.join(args.outDir, 'web_page.png');
    await page.screenshot({ path: screenshot, fullPage: true });

    process.stdout.write(JSON.stringify({ state, text, tokens, stats, run_error: runError, server, summary,
                                          charts: serverCharts, file_charts: fileCharts, screenshot, problems }) + '\n');
  } finally {
    await browser.close();
  }
  failOnProblems('web_page.js', problems);
}

runMain('web_page.js', main);
