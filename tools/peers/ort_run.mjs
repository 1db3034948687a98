#!/usr/bin/env node
// ort_run.mjs: run an ONNX model on onnxruntime-node (the reference peer edgeq checks itself against).
// A test oracle and benchmark peer, never part of the product path.
//
// Usage:
//   node tools/peers/ort_run.mjs MODEL.onnx [--input SPEC]... [options]
//
// Inputs (--input, repeatable; bound by NAME, else in the model's input order):
//   [NAME=]FILE.pb                       an ONNX TensorProto (the backend-test input_K.pb layout); its
//                                        own name binds it when NAME= is absent and the name is an input
//   [NAME=]FILE[:TYPE]:D0xD1x...         raw little-endian data, TYPE one of float32 (default), float64,
//                                        int8, uint8, int16, uint16, int32, uint32, int64, uint64, bool
// Options:
//   --out-dir DIR      write each output to DIR/<name>.raw (raw little-endian) or .pb (--format pb);
//                      names are sanitized to [A-Za-z0-9._-]
//   --format raw|pb    output file format (default raw)
//   --values           include every output value in the JSON (fine for small outputs)
//   --threads N        intra-op threads (default: ORT's choice, all cores); inter-op is 1
//   --opt LEVEL        graph optimization: disabled | basic | extended | all (default all)
//   --warmup N         untimed runs before timing (default 0)
//   --runs N           timed runs (default 1); with N > 1 the JSON gets timing statistics
// Stdout: one JSON object
//   {"model", "ort_version", "session_ms", "inputs": [{name, type, dims}],
//    "outputs": [{name, type, dims, file?, values?}],
//    "timing": {"warmup", "runs", "mean_ms", "min_ms", "p50_ms", "p95_ms", "p99_ms", "samples_ms"}}
// Exit 0 on success; 1 with one line on stderr ("ort_run: error: ...") on any failure.
//
// Install: `npm install --ignore-scripts` in tools/peers (scripts/setup does it): onnxruntime-node's
// install script fetches CUDA binaries from a host these machines cannot reach; the CPU build ships
// inside the package.

import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';

const ONNX_TYPES = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64',
  9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64',
};
const TYPE_CODES = Object.fromEntries(Object.entries(ONNX_TYPES).map(([k, v]) => [v, Number(k)]));
const ARRAYS = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array, int16: Int16Array,
  uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array,
  bool: Uint8Array, float16: Uint16Array,
};

function fail(msg) {
  process.stderr.write(`ort_run: error: ${msg}\n`);
  process.exit(1);
}

// ---- minimal protobuf reading/writing for onnx.TensorProto ----
class Reader {
  constructor(buf) { this.buf = buf; this.pos = 0; }
  eof() { return this.pos >= this.buf.length; }
  varint() {
    let result = 0n, shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error('truncated varint');
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 70n) throw new Error('varint too long');
    }
  }
  bytes() {
    const n = Number(this.varint());
    if (this.pos + n > this.buf.length) throw new Error('truncated length-delimited field');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  skip(wire) {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

function readTensorProto(buf, file) {
  const r = new Reader(buf);
  const t = { dims: [], dataType: 0, name: '', raw: null, floats: [], ints: [], int64s: [], doubles: [], uint64s: [] };
  // Repeated numeric fields come packed (wire 2) or one per tag.
  const repeated = (wire, scalar, sink, width) => {
    if (wire !== 2) { sink.push(scalar(r)); return; }
    const sub = new Reader(r.bytes());
    while (!sub.eof()) sink.push(scalar(sub, width));
  };
  const fixed32 = (rd) => { const v = Buffer.from(rd.buf.buffer, rd.buf.byteOffset + rd.pos, 4).readFloatLE(0); rd.pos += 4; return v; };
  const fixed64 = (rd) => { const v = Buffer.from(rd.buf.buffer, rd.buf.byteOffset + rd.pos, 8).readDoubleLE(0); rd.pos += 8; return v; };
  const varint = (rd) => rd.varint();
  try {
    while (!r.eof()) {
      const key = Number(r.varint());
      const field = key >>> 3, wire = key & 7;
      switch (field) {
        case 1: repeated(wire, varint, t.dims); break;
        case 2: t.dataType = Number(r.varint()); break;
        case 4: repeated(wire, fixed32, t.floats); break;
        case 5: repeated(wire, varint, t.ints); break;
        case 7: repeated(wire, varint, t.int64s); break;
        case 8: t.name = r.bytes().toString('utf8'); break;
        case 9: t.raw = r.bytes(); break;
        case 10: repeated(wire, fixed64, t.doubles); break;
        case 11: repeated(wire, varint, t.uint64s); break;
        case 14: if (Number(r.varint()) === 1) throw new Error('external data is not supported'); break;
        default: r.skip(wire);
      }
    }
  } catch (e) {
    fail(`${file}: not a TensorProto: ${e.message}`);
  }
  const type = ONNX_TYPES[t.dataType];
  if (!type) fail(`${file}: unsupported data_type ${t.dataType}`);
  const dims = t.dims.map((d) => Number(BigInt.asIntN(64, d)));
  const count = dims.reduce((a, b) => a * b, 1);
  const Arr = ARRAYS[type];
  let data;
  if (t.raw) {
    if (t.raw.length !== count * Arr.BYTES_PER_ELEMENT) fail(`${file}: raw_data has ${t.raw.length} bytes for ${count} ${type}`);
    data = new Arr(count);
    new Uint8Array(data.buffer).set(t.raw);
  } else {
    const src = type === 'float32' ? t.floats : type === 'float64' ? t.doubles : type === 'int64' ? t.int64s
      : type === 'uint64' ? t.uint64s : t.ints;
    if (src.length !== count) fail(`${file}: ${src.length} values for ${count} elements`);
    if (type === 'int64') data = BigInt64Array.from(src, (v) => BigInt.asIntN(64, v));
    else if (type === 'uint64') data = BigUint64Array.from(src);
    else if (type === 'float32' || type === 'float64') data = Arr.from(src);
    else data = Arr.from(src, (v) => Number(BigInt.asIntN(32, v)));
  }
  return { name: t.name, type, dims, data };
}

function encodeVarint(value, out) {
  let v = BigInt.asUintN(64, BigInt(value));
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
}

function writeTensorProto(name, type, dims, data) {
  const head = [];
  for (const d of dims) { head.push(0x08); encodeVarint(d, head); }   // dims
  head.push(0x10); encodeVarint(TYPE_CODES[type], head);              // data_type
  const nameBytes = Buffer.from(name, 'utf8');
  head.push(0x42); encodeVarint(nameBytes.length, head);              // name
  const raw = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const rawHead = [0x4a]; encodeVarint(raw.length, rawHead);          // raw_data
  return Buffer.concat([Buffer.from(head), nameBytes, Buffer.from(rawHead), raw]);
}

// ---- arguments ----
function parseArgs(argv) {
  const a = { model: null, inputs: [], outDir: null, format: 'raw', values: false, threads: 0, opt: 'all', warmup: 0, runs: 1 };
  for (let i = 0; i < argv.length; ++i) {
    const arg = argv[i];
    const next = () => { if (i + 1 >= argv.length) fail(`${arg} needs a value`); return argv[++i]; };
    const int = (v) => { if (!/^\d+$/.test(v)) fail(`${arg} expects a non-negative integer, got '${v}'`); return Number(v); };
    switch (arg) {
      case '--input': a.inputs.push(next()); break;
      case '--out-dir': a.outDir = next(); break;
      case '--format': a.format = next(); if (!['raw', 'pb'].includes(a.format)) fail('--format is raw or pb'); break;
      case '--values': a.values = true; break;
      case '--threads': a.threads = int(next()); break;
      case '--opt': a.opt = next(); if (!['disabled', 'basic', 'extended', 'all'].includes(a.opt)) fail('--opt is disabled|basic|extended|all'); break;
      case '--warmup': a.warmup = int(next()); break;
      case '--runs': a.runs = Math.max(1, int(next())); break;
      case '-h': case '--help': {
        const src = fs.readFileSync(new URL(import.meta.url), 'utf8').split('\n');
        const end = src.findIndex((l) => !l.startsWith('//') && !l.startsWith('#!'));
        process.stdout.write(src.slice(1, end).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
        process.exit(0);
      }
      default:
        if (arg.startsWith('--')) fail(`unknown option ${arg}`);
        if (a.model) fail(`unexpected argument '${arg}' (one model only)`);
        a.model = arg;
    }
  }
  if (!a.model) fail('no MODEL.onnx given (see --help)');
  return a;
}

function loadInput(spec) {
  let name = null, rest = spec;
  const eq = spec.indexOf('=');
  if (eq > 0 && !spec.slice(0, eq).includes('/')) { name = spec.slice(0, eq); rest = spec.slice(eq + 1); }
  if (rest.endsWith('.pb')) {
    if (!fs.existsSync(rest)) fail(`${rest}: no such file`);
    const t = readTensorProto(fs.readFileSync(rest), rest);
    return { ...t, name: name ?? (t.name || null), fromPb: !name };
  }
  const parts = rest.split(':');
  if (parts.length < 2) fail(`--input ${spec}: raw data needs :DIMS (e.g. x.f32:1x1x28x28), or use a .pb file`);
  const dimsText = parts.pop();
  let type = 'float32';
  if (parts.length >= 2 && ARRAYS[parts[parts.length - 1]]) type = parts.pop();
  const file = parts.join(':');
  if (!/^\d+(x\d+)*$/.test(dimsText)) fail(`--input ${spec}: bad dims '${dimsText}' (expected like 1x1x28x28)`);
  const dims = dimsText.split('x').map(Number);
  if (!fs.existsSync(file)) fail(`${file}: no such file`);
  const buf = fs.readFileSync(file);
  const Arr = ARRAYS[type];
  const count = dims.reduce((x, y) => x * y, 1);
  if (buf.length !== count * Arr.BYTES_PER_ELEMENT) fail(`${file}: ${buf.length} bytes, expected ${count} ${type} = ${count * Arr.BYTES_PER_ELEMENT}`);
  const data = new Arr(count);
  new Uint8Array(data.buffer).set(buf);
  return { name, type, dims, data };
}

function toOrtTensor(t) {
  if (t.type === 'bool') return new ort.Tensor('bool', Uint8Array.from(t.data), t.dims);
  return new ort.Tensor(t.type, t.data, t.dims);
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(a.model)) fail(`${a.model}: no such file`);
  const options = { graphOptimizationLevel: a.opt, interOpNumThreads: 1, executionMode: 'sequential' };
  if (a.threads > 0) options.intraOpNumThreads = a.threads;
  const t0 = performance.now();
  let session;
  try {
    session = await ort.InferenceSession.create(a.model, options);
  } catch (e) {
    fail(`${a.model}: onnxruntime cannot load it: ${e.message.split('\n')[0]}`);
  }
  const sessionMs = performance.now() - t0;

  const feeds = {};
  const loaded = a.inputs.map(loadInput);
  let position = 0;
  for (const t of loaded) {
    let name = t.name;
    if (!name || (t.fromPb && !session.inputNames.includes(name))) name = session.inputNames[position];
    if (!name) fail(`more inputs given than the model has (${session.inputNames.join(', ')})`);
    if (!session.inputNames.includes(name)) fail(`model has no input '${name}' (inputs: ${session.inputNames.join(', ')})`);
    feeds[name] = toOrtTensor(t);
    position++;
  }
  for (const n of session.inputNames) if (!feeds[n]) fail(`no value given for input '${n}'`);

  let results;
  const samples = [];
  try {
    for (let i = 0; i < a.warmup; ++i) await session.run(feeds);
    for (let i = 0; i < a.runs; ++i) {
      const s = performance.now();
      results = await session.run(feeds);
      samples.push(performance.now() - s);
    }
  } catch (e) {
    fail(`${a.model}: run failed: ${e.message.split('\n')[0]}`);
  }

  if (a.outDir) fs.mkdirSync(a.outDir, { recursive: true });
  const outputs = [];
  for (const name of session.outputNames) {
    const t = results[name];
    const o = { name, type: t.type, dims: t.dims };
    if (a.outDir) {
      const file = path.join(a.outDir, name.replace(/[^A-Za-z0-9._-]/g, '_') + (a.format === 'pb' ? '.pb' : '.raw'));
      const bytes = a.format === 'pb' ? writeTensorProto(name, t.type, t.dims, t.data)
        : Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      fs.writeFileSync(file + '.tmp', bytes);
      fs.renameSync(file + '.tmp', file);  // atomic, like edgeq's own writes
      o.file = file;
    }
    if (a.values) o.values = Array.from(t.data, (v) => (typeof v === 'bigint' ? v.toString() : v));
    outputs.push(o);
  }
  const sorted = [...samples].sort((x, y) => x - y);
  const report = {
    model: a.model,
    ort_version: ort.env.versions?.node ?? 'unknown',
    session_ms: sessionMs,
    inputs: Object.entries(feeds).map(([name, t]) => ({ name, type: t.type, dims: t.dims })),
    outputs,
    timing: {
      warmup: a.warmup,
      runs: a.runs,
      mean_ms: samples.reduce((x, y) => x + y, 0) / samples.length,
      min_ms: sorted[0],
      p50_ms: percentile(sorted, 0.5),
      p95_ms: percentile(sorted, 0.95),
      p99_ms: percentile(sorted, 0.99),
      samples_ms: a.runs > 1 ? samples : undefined,
    },
  };
  process.stdout.write(JSON.stringify(report) + '\n');
}

main().catch((e) => fail(e.stack ?? String(e)));
