#!/usr/bin/env node
// run.mjs: onnxruntime-web (WASM backend) side of edgeq's measurement protocol, in headless Chromium.
// A benchmark peer, never part of edgeq's product path. Run by edgeq::bench::OrtWebPeer.
//
// Serves tools/peers/ on 127.0.0.1 (a port the OS picks) with COOP/COEP headers, so the page is
// cross-origin isolated (SharedArrayBuffer: WASM threads; 5 us performance.now() resolution), starts
// Debian's chromium through playwright-core with a fresh --user-data-dir, loads ort_web/index.html
// and lets page.mjs time session.run(). One page load per run: ORT reads numThreads once per page.
//
// Usage:
//   node ort_web/run.mjs [options] MODEL.onnx...
// Options (the same as ort_bench.mjs, with the same defaults and JSON output), plus:
//   --chromium PATH   the browser (default $EDGEQ_CHROMIUM, else /usr/bin/chromium)
//   --threads N       ort.env.wasm.numThreads (default 1); N > 1 needs cross-origin isolation
// The evaluation set (--eval-*) is served like the models and fetched once per page; the page scores
// it with ../evaluate.mjs, as ort_bench.mjs does.
// Output: one JSON object on stdout with ort_bench.mjs's fields (models[], noop, ...) plus tool
// "ort_web_bench", browser_version, cross_origin_isolated. peak_rss_bytes is absent: the browser's
// memory is spread over several processes and is not comparable with one process's peak.
// Exit status: 0 when the JSON was printed (even with skipped models); 1 with one line on stderr when
// chromium or playwright-core is missing or the page cannot load.

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

import { PROTOCOL_USAGE, parsePeerArgs } from '../args.mjs';
import { spreadOf, summarize } from '../ort_bench.mjs';

const PEERS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = `usage: node ort_web/run.mjs [--chromium PATH] ${PROTOCOL_USAGE} MODEL.onnx...`;
// From the machine notes: without the background-networking flags Chromium keeps dialing hosts this
// closed network refuses.
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SHARED_MODULES = ['evaluate.mjs'];
const CONTENT_TYPES = { '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript',
  '.wasm': 'application/wasm', '.json': 'application/json' };

function fail(message) {
  process.stderr.write(`ort_web: ${message}\n`);
  process.exit(1);
}

// Serves PEERS_DIR/ort_web, PEERS_DIR/node_modules and the modules the page shares with the node peer,
// plus the given files under /file/<k>.
function startServer(files) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    let file = null;
    const m = /^\/file\/(\d+)$/.exec(url.pathname);
    if (m) {
      file = files[Number(m[1])] || null;
    } else {
      const candidate = path.resolve(PEERS_DIR, `.${decodeURIComponent(url.pathname)}`);
      const allowed = ['ort_web', 'node_modules'].some((d) => candidate.startsWith(path.join(PEERS_DIR, d) + path.sep)) ||
        SHARED_MODULES.some((f) => candidate === path.join(PEERS_DIR, f));
      if (allowed) file = candidate;
    }
    // Cross-origin isolation for every response, the page and its workers alike.
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Cache-Control', 'no-store');
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
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// The page returns raw samples; statistics as ort_bench.mjs computes them.
function batchFigures(b) {
  if (b.status !== 'ok') return { batch: b.batch, status: b.status };
  const stats = summarize(b.samples_ms);
  const roundP50s = [];
  for (let r = 0; r < b.rounds; ++r) roundP50s.push(summarize(b.samples_ms.slice(r * b.runs, (r + 1) * b.runs)).p50_ms);
  return { batch: b.batch, status: 'ok', runs: b.runs, rounds: b.rounds, ...stats, round_p50_ms: roundP50s,
    spread: spreadOf(roundP50s), throughput_items_per_s: stats.mean_ms > 0 ? (b.batch * 1000) / stats.mean_ms : 0 };
}

async function main() {
  const opts = parsePeerArgs(process.argv.slice(2), {
    usage: USAGE, fail, extraStrings: { '--chromium': 'chromium' },
    defaults: { chromium: process.env.EDGEQ_CHROMIUM || '/usr/bin/chromium' },
  });
  if (!fs.existsSync(opts.chromium)) fail(`chromium not found at ${opts.chromium}`);
  const evalFiles = [opts.evalInput, opts.evalLabels, opts.evalReference];
  for (const f of [...opts.models, opts.noop, opts.input, ...evalFiles].filter(Boolean)) {
    if (!fs.existsSync(f)) fail(`${f}: no such file`);
  }
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    fail(`cannot import playwright-core (run npm install in tools/peers): ${String(e.message).split('\n')[0]}`);
  }
  const files = [...opts.models, opts.noop, opts.input, ...evalFiles];
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

  const server = await startServer(files);
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeq-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: opts.chromium, headless: true, args: CHROMIUM_FLAGS, timeout: 60000,
    });
    const page = context.pages()[0] || (await context.newPage());
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(String(e.message || e)));
    const base = `http://127.0.0.1:${server.address().port}`;
    await page.goto(`${base}/ort_web/index.html`);
    try {
      await page.waitForFunction(() => typeof window.edgeqBench === 'function', null, { timeout: 30000 });
    } catch {
      throw new Error(`the page did not load onnxruntime-web${pageErrors.length ? `: ${pageErrors[0]}` : ''}`);
    }
    const isolated = await page.evaluate(() => self.crossOriginIsolated === true);
    const raw = await page.evaluate((config) => window.edgeqBench(config), { threads: opts.threads, jobs });
    const toModel = (p, r) => {
      const model = { path: p, status: r.status };
      if (r.status !== 'ok') return model;
      if (opts.threads > 1 && !isolated) {
        return { path: p, status: 'skipped: WASM threads need cross-origin isolation, which the page did not get' };
      }
      return { ...model, session_ms: r.session_ms, input_name: r.input_name, sample_shape: r.sample_shape,
        batches: r.batches.map(batchFigures), ...(r.eval ? { eval: r.eval } : {}) };
    };
    const out = {
      tool: 'ort_web_bench',
      ort_version: raw.ort_version || 'unknown',
      browser_version: context.browser() ? context.browser().version() : raw.user_agent,
      user_agent: raw.user_agent,
      cross_origin_isolated: isolated,
      hardware_concurrency: raw.hardware_concurrency,
      protocol: { warmup: opts.warmup, runs: opts.runs, batch_runs: opts.batchRuns, rounds: opts.rounds,
        batches: opts.batches, threads: opts.threads, backend: 'wasm', graph_optimization: 'all',
        timer: 'performance.now() around await session.run()',
        percentile: 'linear interpolation between closest ranks (type 7)' },
      input: opts.input ? { source: 'file', path: opts.input } : { source: 'constant', value: 0.5 },
      models: opts.models.map((p, k) => toModel(p, raw.results[k])),
      noop: null,
    };
    if (opts.noop) {
      const r = raw.results[opts.models.length];
      const b1 = r.status === 'ok' ? batchFigures(r.batches[0]) : null;
      out.noop = b1 && b1.status === 'ok' ? { path: opts.noop, session_ms: r.session_ms, ...b1 }
        : { path: opts.noop, status: b1 ? b1.status : r.status };
    }
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    if (context) await context.close();
    server.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

main().catch((e) => fail(String(e && e.message ? e.message : e).split('\n')[0]));
