#!/usr/bin/env node
// The app's demo models, made with edgeq itself: a cnn-s trained briefly on Fashion-MNIST (1 000 images,
// one epoch, one thread: seconds, reproducible; edgeq writes labels and preprocessing into the file), its
// static int8 version, and a second int8 file calibrated on fewer samples (other bytes, same answers'
// shape) that the tests publish as a new manifest version.
//   node tools/demo_models.mjs --edgeq PATH/edgeq --out DIR
// Writes DIR/fp32.onnx, DIR/int8.onnx, DIR/int8-b.onnx; files already there are kept (delete DIR to redo).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { edgeq: { type: 'string' }, out: { type: 'string' } } });
if (!values.edgeq || !values.out) {
  process.stderr.write('usage: node tools/demo_models.mjs --edgeq PATH/edgeq --out DIR\n');
  process.exit(1);
}
const out = path.resolve(values.out);
mkdirSync(out, { recursive: true });
const edgeq = (...args) => execFileSync(values.edgeq, args, { stdio: ['ignore', 'ignore', 'inherit'] });

const fp32 = path.join(out, 'fp32.onnx');
if (!existsSync(fp32)) {
  const dir = path.join(out, 'train');
  edgeq('train', '--dataset', 'fashion-mnist', '--arch', 'cnn-s', '--epochs', '1', '--limit', '1000', '--test-limit', '200',
    '--threads', '1', '--seed', '1', '--quiet', '--out', dir);
  renameSync(path.join(dir, 'model.onnx'), fp32);
}
for (const [file, samples] of [['int8.onnx', '64'], ['int8-b.onnx', '16']]) {
  const target = path.join(out, file);
  if (existsSync(target)) continue;
  edgeq('quantize', fp32, '--mode', 'static', '--calib', 'fashion-mnist:test', '--calib-samples', samples, '--out', target);
}
