// browser_peer.mjs: what the headless-Chromium peers share (ort_web/run.mjs: onnxruntime-web's WASM
// backend; edgeq_wasm/run.mjs: edgeq's own WebAssembly module). Each peer has a page that exposes
// window.edgeqBench(config) and returns raw samples; this module parses their common flags, serves the
// page, the models and the libraries on 127.0.0.1, starts Debian's chromium through playwright-core,
// runs the page and turns its samples into ort_bench.mjs's JSON, so every peer summarizes alike.
//
// The server: a port the OS picks, COOP/COEP (+ CORP) on every response so the page is cross-origin
// isolated (SharedArrayBuffer, hence WASM threads, and 5 us performance.now() resolution), only the
// mounted directories and the given files (/file/<k>), never a path that resolves outside them.

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

import { PROTOCOL_USAGE, parsePeerArgs } from './args.mjs';
import { spreadOf, summarize } from './ort_bench.mjs';

export const PEERS_DIR = path.dirname(fileURLToPath(import.meta.url));
export const BROWSER_USAGE = `[--chromium PATH] ${PROTOCOL_USAGE}`;
// From the machine notes: without the background-networking flags Chromium keeps dialing hosts this
// closed network refuses.
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const CONTENT_TYPES = { '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript',
  '.wasm': 'application/wasm', '.json': 'application/json' };

// fail(message): one line "<name>: message" on stderr, exit 1.
export function failer(name) {
  return (message) => {
    process.stderr.write(`${name}: ${message}\n`);
    process.exit(1);
  };
}

// The protocol flags plus --chromium (default $EDGEQ_CHROMIUM, else /usr/bin/chromium) and the peer's
// own string flags; every file named must exist.
export function parseBrowserPeerArgs(argv, { usage, fail, extraStrings = {}, defaults = {} }) {
  const opts = parsePeerArgs(argv, {
    usage, fail, extraStrings: { '--chromium': 'chromium', ...extraStrings },
    defaults: { chromium: process.env.EDGEQ_CHROMIUM || '/usr/bin/chromium', ...defaults },
  });
  if (!fs.existsSync(opts.chromium)) fail(`chromium not found at ${opts.chromium}`);
  for (const f of [...opts.models, opts.noop, opts.input, opts.evalInput, opts.evalLabels, opts.evalReference].filter(Boolean)) {
    if (!fs.existsSync(f)) fail(`${f}: no such file`);
  }
  return opts;
}

// The files the page fetches (/file/<k>) and one job per model (+ the no-op), as both pages take them:
// {modelUrl, inputUrl|null, shape|null, batches, warmup, runs, batchRuns, rounds,
//  eval: null | {inputUrl, labelsUrl|null, referenceUrl|null, batch, limit}}
export function planJobs(opts) {
  const files = [...opts.models, opts.noop, opts.input, opts.evalInput, opts.evalLabels, opts.evalReference];
  const urlOf = (k) => (files[k] ? `/file/${k}` : null);
  const inputIndex = opts.models.length + 1;
  const evalJob = opts.evalInput ? { inputUrl: urlOf(inputIndex + 1), labelsUrl: urlOf(inputIndex + 2),
    referenceUrl: urlOf(inputIndex + 3), batch: opts.evalBatch, limit: opts.evalLimit } : null;
  const job = (k, extra) => ({ modelUrl: urlOf(k), inputUrl: urlOf(inputIndex), shape: opts.shape,
    batches: opts.batches, warmup: opts.warmup, runs: opts.runs, batchRuns: opts.batchRuns, rounds: opts.rounds,
    eval: evalJob, ...extra });
  const jobs = opts.models.map((_, k) => job(k, {}));
  // The no-op gets its own input (any content does for Identity), batch 1 only and no evaluation.
  if (opts.noop) jobs.push(job(opts.models.length, { inputUrl: null, shape: null, batches: [1], eval: null }));
  return { files, jobs };
}

// mounts: {url prefix ending in "/" ("/ort_web/") -> directory, or one exact path ("/evaluate.mjs") -> file};
// files: served as /file/<index>.
// cacheControl: the Cache-Control header of every response ("no-store" unless a peer measures caching).
export function startServer({ mounts, files, cacheControl = 'no-store' }) {
  const roots = Object.entries(mounts).map(([prefix, dir]) => [prefix, path.resolve(dir)]);
  const resolve = (pathname) => {
    const m = /^\/file\/(\d+)$/.exec(pathname);
    if (m) return files[Number(m[1])] || null;
    for (const [prefix, dir] of roots) {
      if (!prefix.endsWith('/')) {
        if (pathname === prefix) return dir;
        continue;
      }
      if (!pathname.startsWith(prefix)) continue;
      const candidate = path.resolve(dir, `.${path.sep}${pathname.slice(prefix.length)}`);
      if (candidate.startsWith(dir + path.sep)) return candidate;
    }
    return null;
  };
  const server = http.createServer((req, res) => {
    let file = null;
    try {
      file = resolve(decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname));
    } catch {
      file = null;  // a malformed escape
    }
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Cache-Control', cacheControl);
    fs.readFile(file || '', (err, data) => {
      if (!file || err) {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('not found');
        return;
      }
      res.writeHead(200, { 'Content-Type': CONTENT_TYPES[path.extname(file)] || 'application/octet-stream' });
      res.end(data);
    });
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolvePromise(server));
  });
}

export function baseUrl(server) {
  return `http://127.0.0.1:${server.address().port}`;
}

let chromiumModule = null;
async function playwrightChromium(fail) {
  if (chromiumModule) return chromiumModule;
  try {
    ({ chromium: chromiumModule } = await import('playwright-core'));
  } catch (e) {
    fail(`cannot import playwright-core (run npm install in tools/peers): ${String(e.message).split('\n')[0]}`);
  }
  return chromiumModule;
}

// Runs fn(context, page, pageErrors) in a fresh browser profile (an empty HTTP cache), then closes it.
export async function withChromium(executablePath, fail, fn) {
  const chromium = await playwrightChromium(fail);
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeq-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath, headless: true, args: CHROMIUM_FLAGS, timeout: 60000,
    });
    const page = context.pages()[0] || (await context.newPage());
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(String(e.message || e)));
    return await fn(context, page, pageErrors);
  } finally {
    if (context) await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

// Loads url and waits for window.edgeqBench; `what` names the library in the error.
export async function openBenchPage(page, url, what, pageErrors) {
  await page.goto(url);
  try {
    await page.waitForFunction(() => typeof window.edgeqBench === 'function', null, { timeout: 30000 });
  } catch {
    throw new Error(`the page did not load ${what}${pageErrors.length ? `: ${pageErrors[0]}` : ''}`);
  }
}

// The page returns raw samples; statistics as ort_bench.mjs computes them.
export function batchFigures(b) {
  if (b.status !== 'ok') return { batch: b.batch, status: b.status };
  const stats = summarize(b.samples_ms);
  const roundP50s = [];
  for (let r = 0; r < b.rounds; ++r) roundP50s.push(summarize(b.samples_ms.slice(r * b.runs, (r + 1) * b.runs)).p50_ms);
  return { batch: b.batch, status: 'ok', runs: b.runs, rounds: b.rounds, ...stats, round_p50_ms: roundP50s,
    spread: spreadOf(roundP50s), throughput_items_per_s: stats.mean_ms > 0 ? (b.batch * 1000) / stats.mean_ms : 0 };
}

// One model of the JSON from the page's result r.
export function modelFigures(modelPath, r) {
  if (r.status !== 'ok') return { path: modelPath, status: r.status };
  return { path: modelPath, status: 'ok', session_ms: r.session_ms, input_name: r.input_name, sample_shape: r.sample_shape,
    batches: r.batches.map(batchFigures), ...(r.eval ? { eval: r.eval } : {}) };
}

// The top-level "noop" object from the page's result for the no-op job (null without one).
export function noopFigures(noopPath, r) {
  if (!noopPath) return null;
  const b1 = r.status === 'ok' ? batchFigures(r.batches[0]) : null;
  return b1 && b1.status === 'ok' ? { path: noopPath, session_ms: r.session_ms, ...b1 }
    : { path: noopPath, status: b1 ? b1.status : r.status };
}

// The protocol object of the JSON; `extra` adds the peer's own fields (backend, timer).
export function protocolFigures(opts, extra) {
  return { warmup: opts.warmup, runs: opts.runs, batch_runs: opts.batchRuns, rounds: opts.rounds,
    batches: opts.batches, threads: opts.threads, ...extra,
    percentile: 'linear interpolation between closest ranks (type 7)' };
}

export function inputFigures(opts) {
  return opts.input ? { source: 'file', path: opts.input } : { source: 'constant', value: 0.5 };
}
