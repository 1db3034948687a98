// The app in headless Chromium, each backend on a known Fashion-MNIST test image uploaded through the
// page: the label must be the native x86 core's top-1 on the very tensor the page fed (model_outputs of
// `make rt-only` on it), and the backend the page reports must be the one that ran. A real WebGPU run
// (SwiftShader) must give the WASM EP's logits within 1e-4; without the WebGPU flags, and without
// cross-origin isolation, the page must fall back and say why. A screenshot after a prediction is kept.
// Environment (ctest): EDGEQ_WEB_DIST, EDGEQ_X86_MODEL_OUTPUTS, EDGEQ_WEB_ARTIFACTS, EDGEQ_CLI.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { nativeOutputsOn, top1 } from '../../edgeq/test/native.mjs';
import { FASHION_MNIST_TEST, grayPng, idxImage } from '../tools/images.mjs';
import { appState, env, launch, openApp, selectBackend, startServer, uploadImage } from './harness.mjs';

const dist = env('EDGEQ_WEB_DIST');
const x86 = env('EDGEQ_X86_MODEL_OUTPUTS');
const artifacts = env('EDGEQ_WEB_ARTIFACTS');
assert.ok(existsSync(x86), `${x86} missing: run make rt-only (the native reference)`);
const manifest = JSON.parse(readFileSync(path.join(dist, 'models.json'), 'utf8'));
const modelFile = (precision) => path.join(dist, manifest.models.find((m) => m.precision === precision).url);

// Test image 12 of Fashion-MNIST as a 28x28 gray PNG (the start-up sample is image 0: another one here,
// so the page's answer comes from the upload).
const work = mkdtempSync(path.join(tmpdir(), 'edgeq-web-predict-'));
const imagePng = path.join(work, 'fashion-test-12.png');
const image = idxImage(FASHION_MNIST_TEST, 12);
writeFileSync(imagePng, grayPng(image.width, image.height, image.pixels));

function maxAbsDiff(a, b) {
  assert.equal(a.length, b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

// The page's prediction against the native core on the same input tensor.
function checkAgainstNative(prediction, precision, tolerance) {
  const native = nativeOutputsOn(x86, modelFile(precision), prediction.input, prediction.shape)[0];
  const nativeTop = top1(native.data, native.shape)[0];
  assert.equal(prediction.top[0].index, nativeTop, `${prediction.backend} ${precision}: top-1 ${prediction.top[0].index}, native ${nativeTop}`);
  const diff = maxAbsDiff(prediction.logits, Array.from(native.data));
  assert.ok(diff <= tolerance, `${prediction.backend} ${precision}: logits differ from native by ${diff} (> ${tolerance})`);
  return diff;
}

let server;
let browser;
let start; // the state after the first load
before(async () => {
  server = await startServer(dist);
  browser = await launch({ webgpu: true });
  start = await openApp(browser.page, server.url);
});
after(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('the page preprocesses the image as the native edgeq does: its tensor is the PNG\'s pixels normalized', async () => {
  assert.equal(start.error, null);
  assert.equal(start.crossOriginIsolated, true);
  const s = await uploadImage(browser.page, imagePng);
  const { mean, std } = manifest.models[0].preprocessing;
  const expected = Array.from(image.pixels, (p) => Math.fround((p / 255 - mean[0]) / std[0]));
  assert.deepEqual(s.prediction.shape, [1, 1, 28, 28]);
  assert.ok(maxAbsDiff(s.prediction.input.map(Math.fround), expected) === 0, 'input tensor differs from the PNG normalized');
  // And the native CLI on the PNG itself (its own decoder and preprocessing) names the same class.
  const cli = JSON.parse(execFileSync(env('EDGEQ_CLI'), ['predict', modelFile('int8'), imagePng, '--json'], { encoding: 'utf8' }));
  assert.equal(s.prediction.top[0].index, cli.predictions[0].top[0].index);
});

test('each backend answers with the native core\'s top-1 on the same tensor and reports itself', async () => {
  const page = browser.page;
  await uploadImage(page, imagePng);
  const seen = {};
  for (const [option, backend, precision, tolerance] of [
    // int8 within 1e-5, not the same bits: edgeq's static quantizer leaves the last Gemm (fc2) to run in
    // float after a DequantizeLinear (no QuantizeLinear follows the logits), and wasm's and x86's float
    // sums differ in the last bit.
    ['edgeq-int8', 'edgeq-wasm', 'int8', 1e-5],
    ['edgeq-fp32', 'edgeq-wasm', 'fp32', 1e-5],
    ['ort-wasm', 'ort-wasm', 'fp32', 1e-4],
    ['ort-webgpu', 'ort-webgpu', 'fp32', 1e-4],
  ]) {
    const s = option === 'edgeq-int8' ? await appState(page) : await selectBackend(page, option);
    assert.equal(s.selected, option);
    assert.equal(s.error, null, `${option}: ${s.error}`);
    assert.equal(s.active.backend, backend, `${option}: ran on ${s.active.backend}; fallbacks ${JSON.stringify(s.fallbacks)}`);
    assert.equal(s.prediction.backend, backend);
    assert.equal(s.prediction.precision, precision);
    assert.deepEqual(s.fallbacks, [], `${option}: ${JSON.stringify(s.fallbacks)}`);
    assert.equal(s.prediction.source, 'upload');
    const diff = checkAgainstNative(s.prediction, precision, tolerance);
    assert.match(await page.textContent('#status'), new RegExp(`running on ${backend}`));
    assert.ok(s.latency[`${backend} ${precision}`].runs >= 1);
    seen[option] = { logits: s.prediction.logits, detail: s.active.detail, diff };
  }
  // WASM threads in an isolated page (edgeq's pthread build, onnxruntime-web's threads); WebGPU on a real
  // adapter (SwiftShader), logits as the WASM EP's.
  assert.match(seen['edgeq-int8'].detail, /SIMD128, [2-4] threads/);
  assert.match(seen['edgeq-fp32'].detail, /SIMD128, [2-4] threads/);
  assert.match(seen['ort-wasm'].detail, /WASM EP, SIMD, [2-9] threads/);
  assert.match(seen['ort-webgpu'].detail, /WebGPU EP on /);
  const gpuVsWasm = maxAbsDiff(seen['ort-webgpu'].logits, seen['ort-wasm'].logits);
  assert.ok(gpuVsWasm <= 1e-4, `WebGPU vs WASM logits: max |diff| ${gpuVsWasm}`);
  // Other arithmetic (the GPU's sums) shows in the last bits: the very WASM bits would mean the WebGPU EP
  // handed every node back to the CPU.
  assert.ok(gpuVsWasm > 0, 'WebGPU logits are the WASM EP\'s bits: the WebGPU EP ran nothing');
  console.log(`max |logit diff|: edgeq int8 vs native ${seen['edgeq-int8'].diff}, edgeq fp32 ${seen['edgeq-fp32'].diff}, ` +
    `ort-wasm ${seen['ort-wasm'].diff}, ort-webgpu ${seen['ort-webgpu'].diff}; WebGPU vs WASM ${gpuVsWasm}; ${seen['ort-webgpu'].detail}`);
});

test('a screenshot after a prediction is saved as an artifact; the latency read-out is a p50 over the last 50 runs', async () => {
  const page = browser.page;
  await selectBackend(page, 'edgeq-int8');
  await uploadImage(page, imagePng);
  const before = (await appState(page)).predictions;
  await page.click('#bench');
  await page.waitForFunction((n) => window.edgeqApp.state.predictions >= n + 50, before, { timeout: 60000 });
  const s = await appState(page);
  assert.equal(s.latency['edgeq-wasm int8'].runs, 50); // a window of 50, though more ran
  assert.ok(s.latency['edgeq-wasm int8'].p50Ms > 0);
  console.log(`edgeq wasm int8 p50 over the last 50 runs in the page: ${s.latency['edgeq-wasm int8'].p50Ms.toFixed(3)} ms`);
  assert.equal((await page.textContent('#results li')).startsWith(s.prediction.top[0].label), true);
  mkdirSync(artifacts, { recursive: true });
  const file = path.join(artifacts, 'app-after-prediction.png');
  await page.screenshot({ path: file, fullPage: true });
  assert.ok(statSync(file).size > 10000, `${file}: ${statSync(file).size} bytes`);
  assert.equal(browser.errors.length, 0, browser.errors.join('\n'));
});

test('?threads=1 runs both engines on one thread in an isolated page and says so', async () => {
  const page = await browser.context.newPage();
  try {
    await openApp(page, `${server.url}?threads=1`);
    const e = await appState(page);
    assert.equal(e.crossOriginIsolated, true);
    assert.deepEqual([e.active.backend, e.active.detail], ['edgeq-wasm', 'edgeq wasm32, SIMD128, 1 thread']);
    assert.deepEqual(e.fallbacks.map((f) => [f.from, f.reason]), [['edgeq-wasm threads', 'one thread asked for (?threads=1 in the URL)']]);
    const o = await selectBackend(page, 'ort-wasm');
    assert.match(o.active.detail, /WASM EP, SIMD, 1 thread$/);
    assert.deepEqual(o.fallbacks.map((f) => f.from), ['ort-wasm threads']);
  } finally {
    await page.close();
  }
});

test('the webcam (Chromium\'s fake camera) feeds the model', async () => {
  const cam = await launch({ args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'] });
  try {
    await openApp(cam.page, server.url);
    await cam.page.click('#camera');
    await cam.page.waitForFunction(() => window.edgeqApp.state.prediction.source === 'camera', null, { timeout: 30000 });
    const s = await appState(cam.page);
    assert.equal(s.prediction.backend, 'edgeq-wasm');
    assert.deepEqual(s.prediction.shape, [1, 1, 28, 28]);
    assert.ok(new Set(s.prediction.input).size > 1, 'the camera frame is not blank');
    assert.equal(await cam.page.textContent('#camera'), 'Stop webcam');
  } finally {
    await cam.close();
  }
});

test('without the WebGPU flags and without cross-origin isolation the page falls back to one-thread WASM (onnxruntime-web and edgeq) and says why', async () => {
  const plain = await startServer(dist, { isolated: false });
  const other = await launch({ webgpu: false });
  try {
    const start = await openApp(other.page, plain.url);
    assert.equal(start.crossOriginIsolated, false);
    const s = await selectBackend(other.page, 'ort-webgpu');
    assert.equal(s.error, null);
    assert.equal(s.active.backend, 'ort-wasm');
    assert.equal(s.prediction.backend, 'ort-wasm');
    assert.match(s.active.detail, /1 thread$/);
    const gpu = s.fallbacks.find((f) => f.from === 'ort-webgpu');
    assert.ok(gpu, JSON.stringify(s.fallbacks));
    assert.match(gpu.reason, /requestAdapter\(\) returned null|navigator\.gpu is undefined/);
    const threads = s.fallbacks.find((f) => f.from === 'ort-wasm threads');
    assert.match(threads.reason, /not cross-origin isolated/);
    const shown = await other.page.textContent('#fallbacks');
    assert.ok(shown.includes(gpu.reason) && shown.includes(threads.reason), shown);
    checkAgainstNative(s.prediction, 'fp32', 1e-4);
    // edgeq too: its one-thread build, with the same reason.
    const e = await selectBackend(other.page, 'edgeq-int8');
    assert.deepEqual([e.active.backend, e.active.detail], ['edgeq-wasm', 'edgeq wasm32, SIMD128, 1 thread']);
    assert.deepEqual(e.fallbacks.map((f) => [f.from, f.to]), [['edgeq-wasm threads', 'edgeq-wasm 1 thread']]);
    assert.match(e.fallbacks[0].reason, /not cross-origin isolated/);
    checkAgainstNative(e.prediction, 'int8', 1e-5);
  } finally {
    await other.close();
    await plain.stop();
  }
});
