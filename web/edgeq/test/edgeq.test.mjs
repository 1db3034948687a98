// web/edgeq under `node --test` (ctest wasm_web_module, label wasm): the ES module loads the models
// tests/arm64/make_models.py writes (cnn-s with edgeq's metadata, cnn-s-int8 a PyTorch QAT export),
// runs them on their backend-test inputs and must give the native x86 core's answers: the same top-1
// per image, int8 logits the same bits, fp32 logits within 1e-5 (model_outputs of `make rt-only` is the
// native reference, as for the aarch64 comparison).
// Environment: EDGEQ_WEB_MODULE (the built edgeq.mjs), EDGEQ_MODELS, EDGEQ_X86_MODEL_OUTPUTS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { nativeOutputs, parseFloatTensor, top1 } from './native.mjs';

const env = (name) => {
  const v = process.env[name];
  assert.ok(v, `${name} is not set (run through ctest)`);
  return v;
};
const { Edgeq, EdgeqError } = await import(env('EDGEQ_WEB_MODULE'));
const models = env('EDGEQ_MODELS');
const x86Tool = env('EDGEQ_X86_MODEL_OUTPUTS');

async function runModel(name) {
  const dir = path.join(models, name);
  const session = await Edgeq.load(readFileSync(path.join(dir, 'model.onnx')));
  const input = parseFloatTensor(readFileSync(path.join(dir, 'test_data_set_0', 'input_0.pb')));
  const outputs = session.run(input.data, input.dims);
  return { session, input, outputs, native: nativeOutputs(x86Tool, dir) };
}

test('cnn-s (fp32): metadata, and the native core\'s logits within 1e-5 and top-1', async () => {
  const { session, input, outputs, native } = await runModel('cnn-s');
  try {
    assert.deepEqual(session.inputs, [{ name: 'input', dtype: 'float32', shape: [-1, 1, 28, 28] }]);
    assert.equal(session.outputs[0].name, 'logits');
    // tests/runtime/make_fixtures.py add_metadata: Fashion-MNIST labels and preprocessing.
    assert.equal(session.labels.length, 10);
    assert.equal(session.labels[9], 'Ankle boot');
    assert.deepEqual(session.preprocessing, { mean: [0.286], std: [0.353], channels: 1, height: 28, width: 28 });
    assert.equal(outputs.length, 1);
    const [logits] = outputs;
    assert.equal(logits.name, 'logits');
    assert.equal(logits.dtype, 'float32');
    assert.deepEqual(logits.shape, [input.dims[0], 10]);
    assert.deepEqual(logits.shape, native[0].shape);
    for (let i = 0; i < logits.data.length; ++i) {
      const a = native[0].data[i];
      assert.ok(Math.abs(logits.data[i] - a) <= 1e-5 * Math.max(1, Math.abs(a)), `logit ${i}: ${logits.data[i]} vs native ${a}`);
    }
    assert.deepEqual(top1(logits.data, logits.shape), top1(native[0].data, native[0].shape));
    console.log(`cnn-s top-1 per image: ${top1(logits.data, logits.shape).map((k) => session.labels[k]).join(', ')}`);
  } finally {
    session.dispose();
  }
});

test('cnn-s-int8 (QDQ): the native core\'s logits, bit for bit', async () => {
  const { session, outputs, native } = await runModel('cnn-s-int8');
  try {
    assert.equal(session.labels, null); // the QAT export carries no metadata
    const [logits] = outputs;
    assert.deepEqual(logits.shape, native[0].shape);
    assert.deepEqual(new Uint32Array(logits.data.buffer), new Uint32Array(native[0].data.buffer));
    assert.deepEqual(top1(logits.data, logits.shape), top1(native[0].data, native[0].shape));
    // Not a constant answer: the 8 random images do not all get the same class.
    assert.ok(new Set(top1(logits.data, logits.shape)).size > 1);
  } finally {
    session.dispose();
  }
});

test('errors come back as EdgeqError with the C API status', async () => {
  await assert.rejects(Edgeq.load(new Uint8Array([1, 2, 3, 4, 5])), (e) => e instanceof EdgeqError && /PARSE|INVALID_MODEL/.test(e.status));
  const session = await Edgeq.load(readFileSync(path.join(models, 'cnn-s', 'model.onnx')));
  try {
    assert.throws(() => session.run(new Float32Array(10), [1, 1, 28, 28]), (e) => e.status === 'INVALID_ARGUMENT');
    // A shape the model refuses (3 channels for a 1-channel conv): the runtime's error, not a crash.
    assert.throws(() => session.run(new Float32Array(3 * 28 * 28), [1, 3, 28, 28]), (e) => e instanceof EdgeqError && e.message.length > 0);
    // The session still runs after a refused call.
    const [logits] = session.run(new Float32Array(28 * 28), [1, 1, 28, 28]);
    assert.deepEqual(logits.shape, [1, 10]);
  } finally {
    session.dispose();
  }
  assert.match(await Edgeq.version(), /^\d+\.\d+\.\d+$/);
});
