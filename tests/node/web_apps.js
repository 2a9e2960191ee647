// Drives the Search and Ads tabs of the page of `tweetlm serve` in headless Debian chromium (npm
// playwright-core), as a user would, for tests/test_serve_web.cpp:
//
//   node tests/node/web_apps.js URL OUT_DIR --query TEXT [--product TEXT] [--api-key KEY]
//
// Opens URL, reads the TweetEval table (the server must run with --eval), switches to the Search tab, types the query (hybrid mode), clicks Search and reads
// the results (ids, texts with <mark>ed words); switches to the Ads tab, writes ads for the
// product, runs the brand-safety check and the targeting example that the page is filled with,
// and reads their tables. Prints one JSON object on stdout and writes OUT_DIR/web_search.png and
// OUT_DIR/web_ads.png. Exits 1 on any failure, including an error in the page's console; 3 when
// playwright-core or chromium is missing (naming scripts/setup.sh).
'use strict';

const fs = require('fs');
const path = require('path');
const { openBrowserPage, runMain, failOnProblems, die } = require('./common');

const TIMEOUT_MS = 60000;

function parseArgs(argv) {
  const a = { query: '', product: 'a cat cafe', apiKey: '' };
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) die(2, `${flag} needs a value`);
      return argv[++i];
    };
    if (flag === '--query') a.query = value();
    else if (flag === '--product') a.product = value();
    else if (flag === '--api-key') a.apiKey = value();
    else if (flag.startsWith('--')) die(2, `unknown flag ${flag}`);
    else pos.push(flag);
  }
  if (pos.length !== 2 || !a.query) die(2, 'usage: web_apps.js URL OUT_DIR --query TEXT [--product TEXT] [--api-key KEY]');
  [a.url, a.outDir] = pos;
  return a;
}

// Waits until `id`'s data-count is set by a finished request, or an error shows.
async function waitDone(page, button, errorId) {
  await page.waitForFunction(([b, e]) => !document.getElementById(b).disabled || document.getElementById(e).textContent,
                             [button, errorId]);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  fs.mkdirSync(args.outDir, { recursive: true });
  const { browser, page, problems } = await openBrowserPage(args.apiKey, TIMEOUT_MS);
  try {
    await page.goto(args.url);

    // The TweetEval table of the first tab (the server's --eval scores), once /v1/apps has said so.
    await page.waitForFunction(() => document.getElementById('eval-table').dataset.count !== '0');
    const evaluation = await page.evaluate(() => ({
      count: Number(document.getElementById('eval-table').dataset.count),
      rows: [...document.querySelectorAll('#eval-table tr')].slice(1).map((tr) => [...tr.children].map((td) => td.textContent)),
    }));

    // Search tab.
    await page.click('#tab-search');
    if (await page.isHidden('#search-query')) problems.push('the Search tab did not show the search panel');
    await page.fill('#search-query', args.query);
    await page.selectOption('#search-mode', 'hybrid');
    const searched = page.waitForResponse((r) => r.url().endsWith('/v1/search'));
    await page.click('#search-button');
    await searched;
    await waitDone(page, 'search-button', 'search-error');
    const search = await page.evaluate(() => ({
      count: Number(document.getElementById('search-results').dataset.count),
      ids: [...document.querySelectorAll('#search-results li')].map((li) => li.dataset.id),
      marked: [...document.querySelectorAll('#search-results mark')].map((m) => m.textContent),
      texts: [...document.querySelectorAll('#search-results li > div:first-child')].map((d) => d.textContent),
      stats: document.getElementById('search-stats').textContent,
      error: document.getElementById('search-error').textContent,
      hash: location.hash,
    }));
    await page.screenshot({ path: path.join(args.outDir, 'web_search.png'), fullPage: true });

    // Ads tab: copy, safety, targeting.
    await page.click('#tab-ads');
    if (await page.isHidden('#copy-product')) problems.push('the Ads tab did not show the ads panel');
    if (!(await page.isHidden('#search-query'))) problems.push('the search panel stayed visible on the Ads tab');
    await page.fill('#copy-product', args.product);
    await page.fill('#copy-n', '2');
    const copied = page.waitForResponse((r) => r.url().endsWith('/v1/ads/copy'));
    await page.click('#copy-button');
    await copied;
    await waitDone(page, 'copy-button', 'ads-error');
    const copy = await page.evaluate(() => ({
      count: Number(document.getElementById('copy-results').dataset.count),
      lengths: [...document.querySelectorAll('#copy-results li')].map((li) => Number(li.dataset.length)),
      texts: [...document.querySelectorAll('#copy-results li > div:first-child')].map((d) => d.textContent),
    }));
    const checked = page.waitForResponse((r) => r.url().endsWith('/v1/ads/safety'));
    await page.click('#safety-button');
    await checked;
    await page.waitForFunction(() => document.getElementById('safety-results').dataset.count !== '0' ||
                                     document.getElementById('ads-error').textContent);
    const safety = await page.evaluate(() => ({
      count: Number(document.getElementById('safety-results').dataset.count),
      risks: [...document.querySelectorAll('#safety-results tr[data-risk]')].map((tr) => Number(tr.dataset.risk)),
    }));
    const matched = page.waitForResponse((r) => r.url().endsWith('/v1/ads/match'));
    await page.click('#match-button');
    await matched;
    await page.waitForFunction(() => document.getElementById('match-results').dataset.count !== '0' ||
                                     document.getElementById('ads-error').textContent);
    const match = await page.evaluate(() => ({
      count: Number(document.getElementById('match-results').dataset.count),
      best: [...document.querySelectorAll('#match-results tr[data-best]')].map((tr) => tr.dataset.best),
    }));
    const adsError = await page.textContent('#ads-error');
    await page.screenshot({ path: path.join(args.outDir, 'web_ads.png'), fullPage: true });
    process.stdout.write(JSON.stringify({ evaluation, search, copy, safety, match, ads_error: adsError, problems }) + '\n');
  } finally {
    await browser.close();
  }
  failOnProblems('web_apps.js', problems);
}

runMain('web_apps.js', main);
