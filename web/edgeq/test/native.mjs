// The native x86 core as the tests' oracle (shared by web/edgeq's node test and web/app's Chromium tests):
// float TensorProto read/write (the backend-test input_K.pb form) and model_outputs' results
// (tests/arm64/model_outputs.cpp, from `make rt-only`) on a model and one input.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

function varint(buf, at) {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    const b = buf[at.i++];
    v |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
    shift += 7n;
  }
}

// A float TensorProto as numpy_helper.from_array writes it (dims, data_type, raw_data) -> {dims, data}.
export function parseFloatTensor(buf) {
  const at = { i: 0 };
  const dims = [];
  let raw = null;
  let dataType = 0;
  while (at.i < buf.length) {
    const key = Number(varint(buf, at));
    const field = key >> 3;
    const wire = key & 7;
    if (wire === 0) {
      const v = Number(varint(buf, at));
      if (field === 1) dims.push(v);
      if (field === 2) dataType = v;
    } else if (wire === 2) {
      const len = Number(varint(buf, at));
      const bytes = buf.subarray(at.i, at.i + len);
      at.i += len;
      if (field === 1) { // packed dims
        const inner = { i: 0 };
        while (inner.i < bytes.length) dims.push(Number(varint(bytes, inner)));
      }
      if (field === 9) raw = bytes;
    } else {
      throw new Error(`unexpected wire type ${wire}`);
    }
  }
  if (dataType !== 1) throw new Error(`data_type ${dataType}, not float`);
  if (!raw) throw new Error('no raw_data');
  const copy = Uint8Array.from(raw);
  return { dims, data: new Float32Array(copy.buffer) };
}

function encodeVarint(n) {
  const out = [];
  for (let v = BigInt(n); ; v >>= 7n) {
    if (v < 0x80n) {
      out.push(Number(v));
      return out;
    }
    out.push(Number(v & 0x7fn) | 0x80);
  }
}

// The inverse: dims (field 1), data_type FLOAT (field 2), raw_data little-endian (field 9).
export function floatTensorProto(data, dims) {
  const raw = new Uint8Array(Float32Array.from(data).buffer);
  return Uint8Array.from([
    ...dims.flatMap((d) => [0x08, ...encodeVarint(d)]), 0x10, 1, 0x4a, ...encodeVarint(raw.length), ...raw]);
}

// model_outputs' file: per output "name dtype dims...\n" + raw bytes.
function parseOutputs(all) {
  const outputs = [];
  for (let at = 0; at < all.length;) {
    const eol = all.indexOf(10, at);
    const [name, dtype, ...dims] = all.subarray(at, eol).toString().split(' ');
    const shape = dims.map(Number);
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    if (dtype !== 'float32') throw new Error(`${name}: ${dtype}`);
    outputs.push({ name, shape, data: new Float32Array(Uint8Array.from(all.subarray(eol + 1, eol + 1 + bytes)).buffer) });
    at = eol + 1 + bytes;
  }
  return outputs;
}

// The native core's outputs on a backend-test directory (DIR/model.onnx, DIR/test_data_set_0/input_*.pb).
export function nativeOutputs(tool, dir) {
  const work = mkdtempSync(path.join(tmpdir(), 'edgeq-native-'));
  try {
    const out = path.join(work, 'out');
    execFileSync(tool, ['run', dir, out]);
    return parseOutputs(readFileSync(out));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// The native core's outputs on `model` with one float input (data, dims).
export function nativeOutputsOn(tool, model, data, dims) {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgeq-native-in-'));
  try {
    symlinkSync(path.resolve(model), path.join(dir, 'model.onnx'));
    mkdirSync(path.join(dir, 'test_data_set_0'));
    writeFileSync(path.join(dir, 'test_data_set_0', 'input_0.pb'), floatTensorProto(data, dims));
    return nativeOutputs(tool, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Index of the largest value of each row of a [rows, classes] output.
export function top1(data, shape) {
  const classes = shape[shape.length - 1];
  const best = [];
  for (let r = 0; r < data.length / classes; ++r) {
    let k = 0;
    for (let c = 1; c < classes; ++c) if (data[r * classes + c] > data[r * classes + k]) k = c;
    best.push(k);
  }
  return best;
}
