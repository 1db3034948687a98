#!/usr/bin/env node
// run.mjs: edgeq's own WebAssembly module (web/edgeq/edgeq.mjs over edgeq-wasm.mjs + .wasm, from
// `make wasm`) under edgeq's measurement protocol in headless Chromium, beside ../ort_web/run.mjs and
// with its harness (../browser_peer.mjs: server with COOP/COEP, chromium through playwright-core, the
// statistics). Run by edgeq::bench::EdgeqWasmPeer.
//
// Usage:
//   node edgeq_wasm/run.mjs --module-dir DIR [options] MODEL.onnx...
//   --module-dir DIR  the wasm build's web module: DIR/edgeq.mjs, edgeq-wasm.mjs, edgeq-wasm.wasm
//                     (build-wasm/web/edgeq), served at /edgeq/
//   --chromium PATH   the browser (default $EDGEQ_CHROMIUM, else /usr/bin/chromium)
//   and the protocol flags of ort_bench.mjs (../args.mjs). --threads must be 1: the module is built
//   single-threaded (docs/wasm.md).
// Timed: session.run(Float32Array, shape), synchronous, with performance.now() around it; the no-op
// (--noop) is the same call on an Identity model: the module's per-call cost (copies in and out).
// After the timing each model is also opened as an app would (edgeq_wasm/first.html: import the module,
// fetch the model, load, predict once) in a fresh profile, twice: first_prediction.cold_ms (empty HTTP
// cache) and warm_ms (second visit; the server sends Cache-Control: max-age=3600), both from navigation
// start, with the bytes each visit transferred over the network.
// Output: ort_bench.mjs's JSON (models[], noop, ...) with tool "edgeq_wasm_bench", edgeq_version,
// browser_version, wasm_bytes (the .wasm file's size); each ok model adds first_prediction.
// Exit status: 0 when the JSON was printed (even with skipped models); 1 with one line on stderr on a
// bad flag, a missing module file, chromium or playwright-core, or a page that cannot load.

import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';

import {
  BROWSER_USAGE, PEERS_DIR, baseUrl, failer, inputFigures, modelFigures, noopFigures, openBenchPage,
  parseBrowserPeerArgs, planJobs, protocolFigures, startServer, withChromium,
} from '../browser_peer.mjs';

const fail = failer('edgeq_wasm');
const MODULE_FILES = ['edgeq.mjs', 'edgeq-wasm.mjs', 'edgeq-wasm.wasm'];

// Opens first.html twice in one fresh profile: {cold_ms, warm_ms, cold_transferred_bytes, warm_transferred_bytes}
// or {status: "skipped: ..."}.
async function firstPrediction(opts, base, modelUrl, sampleShape) {
  return withChromium(opts.chromium, fail, async (context, page) => {
    const visit = async (n) => {
      // A new query string per visit: a navigation to the page's own URL would be a reload, which revalidates.
      await page.goto(`${base}/edgeq_wasm/first.html?visit=${n}&model=${encodeURIComponent(modelUrl)}&shape=${sampleShape.join(',')}`);
      await page.waitForFunction(() => window.edgeqFirstPrediction !== undefined, null, { timeout: 30000 });
      return page.evaluate(() => window.edgeqFirstPrediction);
    };
    const cold = await visit(1);
    if (cold.status !== 'ok') return { status: cold.status };
    const warm = await visit(2);
    if (warm.status !== 'ok') return { status: warm.status };
    return { status: 'ok', cold_ms: cold.ms, warm_ms: warm.ms, cold_transferred_bytes: cold.transferred_bytes,
      warm_transferred_bytes: warm.transferred_bytes };
  });
}

async function main() {
  const opts = parseBrowserPeerArgs(process.argv.slice(2), {
    usage: `usage: node edgeq_wasm/run.mjs --module-dir DIR ${BROWSER_USAGE} MODEL.onnx...`, fail,
    extraStrings: { '--module-dir': 'moduleDir' }, defaults: { moduleDir: null },
  });
  if (!opts.moduleDir) fail('--module-dir DIR is required (the wasm build\'s web/edgeq: make wasm)');
  for (const f of MODULE_FILES) {
    if (!fs.existsSync(path.join(opts.moduleDir, f))) fail(`${path.join(opts.moduleDir, f)}: no such file (make wasm)`);
  }
  if (opts.threads !== 1) fail(`--threads ${opts.threads}: the edgeq wasm module runs one thread`);
  const { files, jobs } = planJobs(opts);
  const server = await startServer({ files, cacheControl: 'max-age=3600', mounts: {
    '/edgeq_wasm/': path.join(PEERS_DIR, 'edgeq_wasm'), '/edgeq/': opts.moduleDir,
    '/evaluate.mjs': path.join(PEERS_DIR, 'evaluate.mjs'), '/browser_page.mjs': path.join(PEERS_DIR, 'browser_page.mjs'),
  } });
  try {
    const out = await withChromium(opts.chromium, fail, async (context, page, pageErrors) => {
      await openBenchPage(page, `${baseUrl(server)}/edgeq_wasm/index.html`, 'the edgeq wasm module', pageErrors);
      const raw = await page.evaluate((config) => window.edgeqBench(config), { jobs });
      return {
        tool: 'edgeq_wasm_bench',
        edgeq_version: raw.edgeq_version,
        browser_version: context.browser() ? context.browser().version() : raw.user_agent,
        user_agent: raw.user_agent,
        cross_origin_isolated: raw.cross_origin_isolated,
        hardware_concurrency: raw.hardware_concurrency,
        module_dir: path.resolve(opts.moduleDir),
        wasm_bytes: fs.statSync(path.join(opts.moduleDir, 'edgeq-wasm.wasm')).size,
        protocol: protocolFigures(opts, { backend: 'edgeq wasm32 SIMD128, one thread',
          timer: 'performance.now() around session.run()' }),
        input: inputFigures(opts),
        models: opts.models.map((p, k) => modelFigures(p, raw.results[k])),
        noop: noopFigures(opts.noop, raw.results[opts.models.length] || {}),
      };
    });
    for (const [k, model] of out.models.entries()) {
      if (model.status !== 'ok') continue;
      model.first_prediction = await firstPrediction(opts, baseUrl(server), `/file/${k}`, opts.shape || model.sample_shape);
    }
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    server.close();
  }
}

main().catch((e) => fail(String(e && e.message ? e.message : e).split('\n')[0]));
