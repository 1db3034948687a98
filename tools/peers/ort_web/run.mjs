#!/usr/bin/env node
// run.mjs: onnxruntime-web (WASM backend) side of edgeq's measurement protocol, in headless Chromium.
// A benchmark peer, never part of edgeq's product path. Run by edgeq::bench::OrtWebPeer.
//
// ../browser_peer.mjs serves tools/peers/ on 127.0.0.1 with COOP/COEP headers (cross-origin isolated:
// WASM threads) and starts Debian's chromium through playwright-core with a fresh profile; this script
// loads ort_web/index.html and lets page.mjs time session.run(). One page load per run: ORT reads
// numThreads once per page.
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

import path from 'node:path';
import process from 'node:process';

import {
  BROWSER_USAGE, PEERS_DIR, baseUrl, failer, inputFigures, modelFigures, noopFigures, openBenchPage,
  parseBrowserPeerArgs, planJobs, protocolFigures, startServer, withChromium,
} from '../browser_peer.mjs';

const fail = failer('ort_web');

async function main() {
  const opts = parseBrowserPeerArgs(process.argv.slice(2), {
    usage: `usage: node ort_web/run.mjs ${BROWSER_USAGE} MODEL.onnx...`, fail,
  });
  const { files, jobs } = planJobs(opts);
  const server = await startServer({ files, mounts: {
    '/ort_web/': path.join(PEERS_DIR, 'ort_web'), '/node_modules/': path.join(PEERS_DIR, 'node_modules'),
    '/evaluate.mjs': path.join(PEERS_DIR, 'evaluate.mjs'), '/browser_page.mjs': path.join(PEERS_DIR, 'browser_page.mjs'),
  } });
  try {
    const out = await withChromium(opts.chromium, fail, async (context, page, pageErrors) => {
      await openBenchPage(page, `${baseUrl(server)}/ort_web/index.html`, 'onnxruntime-web', pageErrors);
      const isolated = await page.evaluate(() => self.crossOriginIsolated === true);
      const raw = await page.evaluate((config) => window.edgeqBench(config), { threads: opts.threads, jobs });
      const toModel = (p, r) => {
        if (r.status === 'ok' && opts.threads > 1 && !isolated) {
          return { path: p, status: 'skipped: WASM threads need cross-origin isolation, which the page did not get' };
        }
        return modelFigures(p, r);
      };
      return {
        tool: 'ort_web_bench',
        ort_version: raw.ort_version || 'unknown',
        browser_version: context.browser() ? context.browser().version() : raw.user_agent,
        user_agent: raw.user_agent,
        cross_origin_isolated: isolated,
        hardware_concurrency: raw.hardware_concurrency,
        protocol: protocolFigures(opts, { backend: 'wasm', graph_optimization: 'all',
          timer: 'performance.now() around await session.run()' }),
        input: inputFigures(opts),
        models: opts.models.map((p, k) => toModel(p, raw.results[k])),
        noop: noopFigures(opts.noop, raw.results[opts.models.length] || {}),
      };
    });
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    server.close();
  }
}

main().catch((e) => fail(String(e && e.message ? e.message : e).split('\n')[0]));
