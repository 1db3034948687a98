// Per-device calibration round trip: samples recorded in the page (two uploaded Fashion-MNIST images and
// one drawn with the mouse), exported through the page's button as a zip, unzipped by Python's zipfile
// (an independent reader: it checks every CRC), then `edgeq quantize --mode static` calibrates on the
// images (--calib folder:DIR/images) and on the exact tensors (--calib tensors:DIR/tensors): both write
// a model that edgeq runs, calibrated on exactly the 3 recorded samples.
// Environment (ctest): EDGEQ_WEB_DIST, EDGEQ_CLI.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { FASHION_MNIST_TEST, grayPng, idxImage } from '../tools/images.mjs';
import { appState, env, launch, openApp, startServer, uploadImage } from './harness.mjs';

const dist = env('EDGEQ_WEB_DIST');
const edgeq = env('EDGEQ_CLI');
const manifest = JSON.parse(readFileSync(path.join(dist, 'models.json'), 'utf8'));
const fp32 = path.join(dist, manifest.models.find((m) => m.precision === 'fp32').url);
const int8 = path.join(dist, manifest.models.find((m) => m.precision === 'int8').url);
const work = mkdtempSync(path.join(tmpdir(), 'edgeq-web-calib-'));

function fashionPng(index) {
  const image = idxImage(FASHION_MNIST_TEST, index);
  const file = path.join(work, `fashion-test-${index}.png`);
  writeFileSync(file, grayPng(image.width, image.height, image.pixels));
  return file;
}

// A .npy float32 file -> {shape, data} (format 1.0, little-endian, C order).
function readNpy(file) {
  const bytes = readFileSync(file);
  assert.equal(bytes.subarray(0, 6).toString('latin1'), '\x93NUMPY');
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
  assert.match(header, /'descr': '<f4', 'fortran_order': False/);
  assert.equal((10 + headerLength) % 64, 0);
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').filter((d) => d.trim()).map(Number);
  const body = Uint8Array.from(bytes.subarray(10 + headerLength));
  return { shape, data: Array.from(new Float32Array(body.buffer)) };
}

let server;
let browser;
before(async () => {
  server = await startServer(dist);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function record(labelIndex) {
  const page = browser.page;
  const before = (await appState(page)).calibration.samples;
  await page.selectOption('#calib-label', String(labelIndex));
  await page.click('#record');
  await page.waitForFunction((n) => window.edgeqApp.state.calibration.samples > n, before);
  return appState(page);
}

test('samples recorded in the page export as a zip that edgeq quantize calibrates on', async () => {
  const page = browser.page;
  await openApp(page, server.url);
  const inputs = [];
  // 1: an uploaded ankle boot (test image 0), 2: a stroke drawn on the pad, 3: an uploaded pullover (image 2).
  inputs.push((await uploadImage(page, fashionPng(0))).prediction);
  await record(9);
  const box = await page.locator('#pad').boundingBox();
  const before = (await appState(page)).predictions;
  await page.mouse.move(box.x + 140, box.y + 40);
  await page.mouse.down();
  await page.mouse.move(box.x + 140, box.y + 160, { steps: 8 });
  await page.mouse.move(box.x + 140, box.y + 240, { steps: 8 });
  await page.mouse.up();
  await page.waitForFunction((n) => window.edgeqApp.state.predictions > n && window.edgeqApp.state.prediction.source === 'draw', before);
  // One more prediction of the finished stroke: predictions end in the order they start, so after it no
  // earlier one (of a partial stroke) can still replace the input that gets recorded.
  await page.evaluate(() => window.edgeqApp.predict());
  inputs.push((await appState(page)).prediction);
  assert.ok(inputs[1].input.some((v) => v > 0), 'the drawn stroke reached the model input');
  await record(1);
  inputs.push((await uploadImage(page, fashionPng(2))).prediction);
  const s = await record(2);
  assert.equal(s.calibration.samples, 3);
  assert.deepEqual(inputs.map((p) => p.source), ['upload', 'draw', 'upload']);

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  const zip = path.join(work, 'calibration.zip');
  await download.saveAs(zip);
  assert.match(download.suggestedFilename(), /^edgeq-calibration-\d{4}-\d\d-\d\d\.zip$/);
  const dir = path.join(work, 'calibration');
  execFileSync('/usr/bin/python3', ['-m', 'zipfile', '-t', zip]); // every CRC checked
  execFileSync('/usr/bin/python3', ['-m', 'zipfile', '-e', zip, dir]);

  const index = JSON.parse(readFileSync(path.join(dir, 'samples.json'), 'utf8')).samples;
  assert.deepEqual(index.map((e) => e.image), ['images/09_Ankle-boot/00001.png', 'images/01_Trouser/00002.png', 'images/02_Pullover/00003.png']);
  assert.deepEqual(readdirSync(path.join(dir, 'images')).sort(), ['01_Trouser', '02_Pullover', '09_Ankle-boot']);
  assert.deepEqual(index.map((e) => e.source), ['upload', 'draw', 'upload']);
  for (const [k, entry] of index.entries()) {
    // The tensor file is the model's input bit for bit; the PNG gives the native CLI the page's answer.
    const npy = readNpy(path.join(dir, entry.tensor));
    assert.deepEqual(npy.shape, [1, 1, 28, 28]);
    assert.deepEqual(npy.data, inputs[k].input.map(Math.fround));
    const cli = JSON.parse(execFileSync(edgeq, ['predict', int8, path.join(dir, entry.image), '--json'], { encoding: 'utf8' }));
    assert.equal(cli.predictions[0].top[0].index, inputs[k].top[0].index, `${entry.image}: native top-1`);
  }

  for (const spec of ['folder:images', 'tensors:tensors']) {
    const [kind, sub] = spec.split(':');
    const out = path.join(work, `calibrated-${kind}.onnx`);
    execFileSync(edgeq, ['quantize', fp32, '--mode', 'static', '--calib', `${kind}:${path.join(dir, sub)}`,
      '--calib-samples', String(index.length), '--out', out], { stdio: 'pipe' });
    assert.ok(existsSync(out), `${spec}: no model written`);
    const info = JSON.parse(execFileSync(edgeq, ['inspect', out, '--json'], { encoding: 'utf8' }));
    assert.equal(info.quantized, true);
    assert.equal(info.metadata.calibration_samples, '3', `${spec}: ${JSON.stringify(info.metadata)}`);
    const cli = JSON.parse(execFileSync(edgeq, ['predict', out, fashionPng(0), '--json'], { encoding: 'utf8' }));
    assert.equal(cli.predictions[0].top.length, 3);
    assert.ok(cli.predictions[0].top.every((t) => Number.isFinite(t.probability)));
  }
});
