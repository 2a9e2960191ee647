// Shared helpers of the Node harness scripts in tests/node: finding the pinned npm clients in
// tools/node/node_modules (installed by scripts/setup.sh; never a global install, so the tests
// always talk to the versions package.json pins), and the JSON-lines I/O the C++ tests use.
// A missing client is a hard error (exit 3) with a message naming scripts/setup.sh: the C++
// tests turn it into a failure, never a silent skip.
'use strict';

const fs = require('fs');
const path = require('path');

const repoRoot = path.resolve(__dirname, '..', '..');
const nodeDir = path.join(repoRoot, 'tools', 'node');

function requireClient(name) {
  let resolved;
  try {
    resolved = require.resolve(name, { paths: [nodeDir] });
  } catch (e) {
    die(3, `npm client '${name}' not found under ${path.join(nodeDir, 'node_modules')}: run scripts/setup.sh`);
  }
  return require(resolved);
}

function clientDir(name) {
  const dir = path.join(nodeDir, 'node_modules', name);
  if (!fs.existsSync(dir)) die(3, `npm client '${name}' not found under ${path.join(nodeDir, 'node_modules')}: run scripts/setup.sh`);
  return dir;
}

function die(code, msg) {
  process.stderr.write(`${path.basename(process.argv[1] || 'node')}: ${msg}\n`);
  process.exit(code);
}

// One JSON string per line -> array of strings. Blank lines are not inputs.
function readJsonLines(file) {
  const text = fs.readFileSync(file, 'utf8');
  const out = [];
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    const v = JSON.parse(line);
    if (typeof v !== 'string') die(2, `${file}: every line must be a JSON string`);
    out.push(v);
  }
  return out;
}

// Arrays of ids -> one JSON array per line.
function writeIdLines(file, rows) {
  const parts = new Array(rows.length);
  for (let i = 0; i < rows.length; ++i) parts[i] = '[' + Array.prototype.join.call(rows[i], ',') + ']\n';
  fs.writeFileSync(file, parts.join(''));
}

// Lines of a plain text file (benchmark input), without empty ones.
function readTextLines(file) {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
}

// Headless Debian chromium (playwright-core) on a page that records every console error and
// uncaught exception in `problems`, with the page's API key in localStorage before its first
// request. Exits 3 (naming scripts/setup.sh) when either is missing.
async function openBrowserPage(apiKey, timeoutMs) {
  const CHROMIUM = '/usr/bin/chromium';
  const { chromium } = requireClient('playwright-core');
  if (!fs.existsSync(CHROMIUM)) die(3, `${CHROMIUM} not found (Debian package chromium): run scripts/setup.sh`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  const problems = [];
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.setDefaultTimeout(timeoutMs);
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  if (apiKey) await page.addInitScript((k) => localStorage.setItem('tweetlm.apiKey', k), apiKey);
  return { browser, page, problems };
}

// Runs an async main; a thrown error is one line on stderr and exit code 1.
function runMain(name, main) {
  main().catch((e) => {
    process.stderr.write(`${name}: ${e.stack || e}\n`);
    process.exit(1);
  });
}

// Prints the problems a page run collected and exits 1 when there are any.
function failOnProblems(name, problems) {
  if (!problems.length) return;
  for (const p of problems) process.stderr.write(`${name}: ${p}\n`);
  process.exit(1);
}

function nowS() {
  return Number(process.hrtime.bigint()) / 1e9;
}

module.exports = { repoRoot, nodeDir, requireClient, clientDir, die, readJsonLines, writeIdLines, readTextLines, nowS,
                   openBrowserPage, runMain, failOnProblems };
