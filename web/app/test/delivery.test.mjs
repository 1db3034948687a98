// Model delivery in headless Chromium, against a loopback server that counts requests and can change
// models.json: the first load downloads the int8 model once (the fp32 one not at all); a reload answers
// from IndexedDB without a request for it; a manifest version bump installs the new file; a file whose
// sha256 is not the manifest's, or that does not load and answer, is rejected and the installed version
// keeps serving; with the server
// gone, a reload still loads the app (service worker) and answers (IndexedDB). A fresh profile whose
// first int8 model is corrupt falls back to the fp32 model and says why.
// Environment (ctest): EDGEQ_WEB_DIST, EDGEQ_WEB_MODELS (tools/demo_models.mjs's folder).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { appState, env, launch, openApp, startServer } from './harness.mjs';

const dist = env('EDGEQ_WEB_DIST');
const manifest = JSON.parse(readFileSync(path.join(dist, 'models.json'), 'utf8'));
const int8 = manifest.models.find((m) => m.precision === 'int8');
const fp32 = manifest.models.find((m) => m.precision === 'fp32');
// Another int8 file of the same model (calibrated on fewer samples): the update the server publishes.
const updateBytes = readFileSync(path.join(env('EDGEQ_WEB_MODELS'), 'int8-b.onnx'));
const updateSha = createHash('sha256').update(updateBytes).digest('hex');
assert.notEqual(updateSha, int8.sha256);

const withInt8 = (entry) => ({ models: manifest.models.map((m) => (m.precision === 'int8' ? { ...m, ...entry } : m)) });
const urlPath = (entry) => `/${entry.url}`;
const events = (s, kind) => s.delivery.filter((e) => e.kind === kind);

let server;
let browser;
before(async () => {
  server = await startServer(dist);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('first load: the int8 model is downloaded once, verified, installed and serves', async () => {
  const s = await openApp(browser.page, server.url);
  assert.equal(s.error, null);
  assert.deepEqual(s.active && [s.active.backend, s.active.precision, s.active.version, s.active.sha256],
    ['edgeq-wasm', 'int8', int8.version, int8.sha256]);
  assert.equal(server.count(urlPath(int8)), 1);
  assert.equal(server.count(urlPath(fp32)), 0);
  assert.deepEqual(events(s, 'installed').map((e) => [e.version, e.replaced]), [[int8.version, null]]);
  assert.equal(s.prediction.source, 'sample');
  assert.match(await browser.page.textContent('#model'), new RegExp(`${int8.name} ${int8.version.replaceAll('.', '\\.')} \\(int8`));
  console.log(`cold load: first prediction ${s.timing.firstPredictionMs.toFixed(0)} ms after navigation start`);
});

test('reload: no second download, the model comes from IndexedDB', async () => {
  await browser.page.waitForFunction(() => window.edgeqApp.state.serviceWorker === 'controlling', null, { timeout: 30000 });
  const s = await openApp(browser.page, server.url, { reload: true });
  assert.equal(server.count(urlPath(int8)), 1);
  assert.deepEqual(events(s, 'cache-hit').map((e) => e.version), [int8.version]);
  assert.equal(events(s, 'download').length, 0);
  assert.equal(s.active.version, int8.version);
  assert.equal(s.prediction.backend, 'edgeq-wasm');
  console.log(`warm load: first prediction ${s.timing.firstPredictionMs.toFixed(0)} ms after navigation start`);
});

test('a manifest version bump replaces the model once the new one has answered', async () => {
  const update = { version: '1.1.0', sha256: updateSha, size: updateBytes.length, url: `models/${updateSha}.onnx` };
  server.override(urlPath(update), updateBytes);
  server.setManifest(withInt8(update));
  const s = await openApp(browser.page, server.url, { reload: true });
  assert.equal(server.count(urlPath(update)), 1);
  assert.deepEqual(events(s, 'installed').map((e) => [e.version, e.replaced]), [['1.1.0', int8.version]]);
  assert.deepEqual([s.active.version, s.active.sha256, s.prediction.modelVersion], ['1.1.0', updateSha, '1.1.0']);
  // And it stays: the next reload is a cache hit on 1.1.0.
  const again = await openApp(browser.page, server.url, { reload: true });
  assert.deepEqual(events(again, 'cache-hit').map((e) => e.version), ['1.1.0']);
  assert.equal(server.count(urlPath(update)), 1);
});

test('a model whose bytes do not match the manifest\'s sha256 is rejected; the installed version keeps serving', async () => {
  // 1.2.0 claims the original int8 file's hash, but the server sends that file with one byte flipped.
  const corrupt = Buffer.from(readFileSync(path.join(dist, int8.url)));
  corrupt[corrupt.length >> 1] ^= 0xff;
  server.override(urlPath(int8), corrupt);
  server.setManifest(withInt8({ version: '1.2.0' }));
  const s = await openApp(browser.page, server.url, { reload: true });
  const [rejected] = events(s, 'rejected');
  assert.ok(rejected, JSON.stringify(s.delivery));
  assert.equal(rejected.version, '1.2.0');
  assert.equal(rejected.keeping, '1.1.0');
  assert.match(rejected.reason, /sha256 [0-9a-f]{64} does not match the manifest's/);
  assert.deepEqual([s.active.version, s.active.sha256, s.prediction.modelVersion], ['1.1.0', updateSha, '1.1.0']);
  assert.equal(s.error, null);
  assert.ok((await browser.page.textContent('#log')).includes('does not match'));
  // A mismatch may be a cut transfer: the next load tries again, and rejects again.
  const downloads = server.count(urlPath(int8));
  const again = await openApp(browser.page, server.url, { reload: true });
  assert.equal(server.count(urlPath(int8)), downloads + 1);
  assert.equal(again.active.version, '1.1.0');
  assert.match(events(again, 'rejected')[0].reason, /does not match/);
});

test('a model with the right sha256 that cannot load or answer is rejected; the installed version keeps serving', async () => {
  // Not an ONNX file, but exactly the bytes the manifest names: only loading it and running the test input
  // can refuse it.
  const junk = Buffer.from('not an onnx model'.repeat(64));
  const sha = createHash('sha256').update(junk).digest('hex');
  const entry = { version: '1.3.0', sha256: sha, size: junk.length, url: `models/${sha}.onnx` };
  server.override(urlPath(entry), junk);
  server.setManifest(withInt8(entry));
  const s = await openApp(browser.page, server.url, { reload: true });
  const [rejected] = events(s, 'rejected');
  assert.deepEqual([rejected.version, rejected.keeping], ['1.3.0', '1.1.0']);
  assert.match(rejected.reason, /loaded or ran wrongly/);
  assert.equal(server.count(urlPath(entry)), 1);
  assert.deepEqual([s.active.version, s.prediction.modelVersion], ['1.1.0', '1.1.0']);
  // Those bytes will never run: the next load does not download them again.
  const again = await openApp(browser.page, server.url, { reload: true });
  assert.equal(server.count(urlPath(entry)), 1);
  assert.equal(again.active.version, '1.1.0');
  assert.match(events(again, 'rejected')[0].reason, /remembered/);
});

test('offline: with the server gone a reload loads the app and answers with the installed model', async () => {
  await server.stop();
  const s = await openApp(browser.page, server.url, { reload: true });
  assert.equal(s.error, null);
  assert.equal(s.manifest.ok, false);
  assert.match(s.manifest.reason, /models\.json unavailable/);
  assert.deepEqual([s.active.backend, s.active.version], ['edgeq-wasm', '1.1.0']);
  assert.equal(s.prediction.modelVersion, '1.1.0');
  assert.equal(s.prediction.source, 'sample');
  assert.match(await browser.page.textContent('#offline'), /offline/);
});

test('a fresh device whose int8 model is corrupt falls back to the fp32 model and says why', async () => {
  const fresh = await startServer(dist);
  const other = await launch();
  try {
    const corrupt = Buffer.from(readFileSync(path.join(dist, int8.url)));
    corrupt[100] ^= 0x01;
    fresh.override(urlPath(int8), corrupt);
    const s = await openApp(other.page, fresh.url);
    assert.equal(s.error, null);
    assert.deepEqual([s.active.backend, s.active.precision, s.active.sha256], ['edgeq-wasm', 'fp32', fp32.sha256]);
    assert.equal(s.fallbacks.length, 1);
    assert.deepEqual([s.fallbacks[0].from, s.fallbacks[0].to], ['int8 model', 'fp32 model']);
    assert.match(s.fallbacks[0].reason, /sha256/);
    assert.ok((await other.page.textContent('#fallbacks')).includes('int8 model → fp32 model'));
    assert.equal(s.prediction.precision, 'fp32');
  } finally {
    await other.close();
    await fresh.stop();
  }
});
