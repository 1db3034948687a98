#!/usr/bin/env node
// Builds the app into one static folder any host can serve (it wants COOP/COEP headers for WASM threads):
//   index.html, assets/      the app (vite build of web/app)
//   sw.js, shell.json        the service worker and the app-shell files it caches
//   edgeq/                   edgeq's wasm module (edgeq.mjs, edgeq-wasm.mjs, edgeq-wasm.wasm from make wasm)
//   edgeq-mt/                its pthread build (make wasm-mt; + edgeq-wasm.worker.js), used by isolated pages
//   ort/                     onnxruntime-web's WebGPU+WASM bundle and its wasm files
//   models/<sha256>.onnx     the models, named by hash, and models.json, their manifest
//   sample.png               a Fashion-MNIST test image the page answers on start
//
//   node tools/build.mjs --wasm build-wasm/web/edgeq --wasm-threads build-wasm-mt/web/edgeq --fp32 F.onnx
//        --int8 Q.onnx --out DIR [--name fashion-cnn-s] [--version 1.0.0] [--ort-dist DIR] [--sample-index 0]
// Without --wasm-threads the page runs edgeq on one thread and says why.
// The manifest's labels and preprocessing are read from each model by edgeq's module under node, which
// also proves the module loads the file.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { FASHION_MNIST_TEST, grayPng, idxImage } from './images.mjs';

const APP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROOT = path.resolve(APP, '..', '..');
const ORT_FILES = ['ort.webgpu.min.mjs', 'ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm'];
const EDGEQ_FILES = ['edgeq.mjs', 'edgeq-wasm.mjs', 'edgeq-wasm.wasm'];
const EDGEQ_MT_FILES = [...EDGEQ_FILES, 'edgeq-wasm.worker.js'];

function fail(message) {
  process.stderr.write(`web build: ${message}\n`);
  process.exit(1);
}

export const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

// A manifest entry for `file` (copied to out/models/<sha256>.onnx) with the model's own metadata.
export async function manifestEntry(Edgeq, file, out, { name, version, precision }) {
  const bytes = readFileSync(file);
  const hash = sha256(bytes);
  mkdirSync(path.join(out, 'models'), { recursive: true });
  copyFileSync(file, path.join(out, 'models', `${hash}.onnx`));
  const session = await Edgeq.load(bytes);
  try {
    const p = session.preprocessing;
    if (!session.labels || !p) throw new Error(`${file}: no labels/preprocessing metadata (write it with edgeq train or quantize)`);
    return { name, version, precision, sha256: hash, size: bytes.length, url: `models/${hash}.onnx`,
      labels: session.labels, preprocessing: { mean: p.mean, std: p.std, channels: p.channels, height: p.height, width: p.width } };
  } finally {
    session.dispose();
  }
}

function listFiles(dir, base = dir) {
  return readdirSync(dir).flatMap((f) => {
    const full = path.join(dir, f);
    return statSync(full).isDirectory() ? listFiles(full, base) : [path.relative(base, full)];
  });
}

async function main() {
  const { values: o } = parseArgs({ options: {
    wasm: { type: 'string' }, 'wasm-threads': { type: 'string' }, fp32: { type: 'string' }, int8: { type: 'string' }, out: { type: 'string' },
    name: { type: 'string', default: 'fashion-cnn-s' }, version: { type: 'string', default: '1.0.0' },
    'ort-dist': { type: 'string', default: path.join(ROOT, 'tools/peers/node_modules/onnxruntime-web/dist') },
    'sample-index': { type: 'string', default: '0' },
  } });
  if (!o.wasm || !o.fp32 || !o.int8 || !o.out) fail('usage: node tools/build.mjs --wasm DIR --fp32 F.onnx --int8 Q.onnx --out DIR');
  for (const f of EDGEQ_FILES) if (!existsSync(path.join(o.wasm, f))) fail(`${path.join(o.wasm, f)} missing: run make wasm`);
  for (const f of o['wasm-threads'] ? EDGEQ_MT_FILES : []) {
    if (!existsSync(path.join(o['wasm-threads'], f))) fail(`${path.join(o['wasm-threads'], f)} missing: run make wasm-mt`);
  }
  for (const f of ORT_FILES) if (!existsSync(path.join(o['ort-dist'], f))) fail(`${path.join(o['ort-dist'], f)} missing: run scripts/setup (npm peers in tools/peers)`);
  if (!existsSync(path.join(APP, 'node_modules', 'vite'))) fail(`${APP}/node_modules/vite missing: run scripts/setup`);
  const out = path.resolve(o.out);

  // The app: type-checked (tsc --noEmit), then bundled by Vite, both from web/app's own node_modules.
  execFileSync(process.execPath, [path.join(APP, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', APP], { stdio: 'inherit' });
  rmSync(out, { recursive: true, force: true });
  const { build } = await import(pathToFileURL(path.join(APP, 'node_modules', 'vite', 'dist', 'node', 'index.js')).href);
  await build({ root: APP, configFile: path.join(APP, 'vite.config.ts'), logLevel: 'warn', build: { outDir: out, emptyOutDir: true } });

  const copies = [['edgeq', EDGEQ_FILES, o.wasm], ['ort', ORT_FILES, o['ort-dist']]];
  if (o['wasm-threads']) copies.push(['edgeq-mt', EDGEQ_MT_FILES, o['wasm-threads']]);
  for (const [dir, files, from] of copies) {
    mkdirSync(path.join(out, dir), { recursive: true });
    for (const f of files) copyFileSync(path.join(from, f), path.join(out, dir, f));
  }
  const sample = idxImage(FASHION_MNIST_TEST, Number(o['sample-index']));
  writeFileSync(path.join(out, 'sample.png'), grayPng(sample.width, sample.height, sample.pixels));

  const { Edgeq } = await import(pathToFileURL(path.join(o.wasm, 'edgeq.mjs')).href);
  const models = [
    await manifestEntry(Edgeq, o.int8, out, { name: o.name, version: o.version, precision: 'int8' }),
    await manifestEntry(Edgeq, o.fp32, out, { name: o.name, version: o.version, precision: 'fp32' }),
  ];
  writeFileSync(path.join(out, 'models.json'), `${JSON.stringify({ models }, null, 1)}\n`);

  // The shell the service worker caches at install: everything but the models and onnxruntime-web's
  // 27 MB (cached once used).
  const shell = listFiles(out).filter((f) => !f.startsWith('models') && !f.startsWith('ort/') && f !== 'sw.js' && !f.endsWith('.map'));
  const files = ['./', ...shell.map((f) => f.split(path.sep).join('/'))];
  const buildId = sha256(files.map((f) => (f === './' ? '' : sha256(readFileSync(path.join(out, f))))).join('')).slice(0, 16);
  writeFileSync(path.join(out, 'shell.json'), `${JSON.stringify({ build: buildId, files })}\n`);
  const sw = path.join(out, 'sw.js');
  writeFileSync(sw, readFileSync(sw, 'utf8').replaceAll('__BUILD_ID__', buildId));
  process.stdout.write(`web build: ${out} (build ${buildId}; models ${models.map((m) => `${m.precision} ${m.sha256.slice(0, 12)}`).join(', ')})\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) main().catch((e) => fail(String(e && e.stack ? e.stack : e)));
