#!/usr/bin/env node
// ort_bench.mjs: onnxruntime-node side of edgeq's measurement protocol (DESIGN.md, "Measurement protocol").
// A test oracle and benchmark peer, never part of edgeq's product path. Run by edgeq::bench::OrtPeer.
//
// Usage:
//   node ort_bench.mjs [options] MODEL.onnx...
// Options:
//   --threads N       intra-op threads (default 1); always inter-op 1, sequential, graph optimization "all"
//   --warmup N        untimed calls before the first round, per model and batch (default 20)
//   --runs N          timed calls per round at batch 1 (default 300)
//   --batch-runs N    timed calls per round for batches > 1 (default 30: a batch-64 call lasts ~64x longer)
//   --rounds N        rounds (default 3)
//   --batches LIST    comma-separated batch sizes (default 1,64)
//   --input FILE      raw little-endian float32 samples, k x (elements of one sample); a batch of b takes
//                     samples 0..b-1 modulo k, so one sample or a whole batch both work
//   --seed S          seed of the uniform [0,1) input used when --input is absent (default 1)
//   --shape D,D,...   shape of one sample (no batch dim), needed only when the model leaves it unknown
//   --noop MODEL      an Identity model (edgeq::bench::write_identity_model): its batch-1 figures are the
//                     binding's own per-call cost, to subtract from the models' latency
//   --eval-input FILE [--eval-labels FILE] [--eval-reference FILE] [--eval-batch N] [--eval-limit N]
//                     after timing, run every model on this labelled set: top-1, agreement with the
//                     reference logits (see args.mjs for the formats, evaluate.mjs for the figures)
//   --help
// Output: one JSON object on stdout:
//   {tool, ort_version, node_version, protocol{...}, input{source, path|seed},
//    models: [{path, status, input_name, sample_shape, session_ms, peak_rss_bytes,
//              batches: [{batch, status, runs, rounds, p50_ms, p95_ms, p99_ms, mean_ms, min_ms, max_ms,
//                         stddev_ms, round_p50_ms[], spread, throughput_items_per_s}],
//              eval: {status, samples, total, batch, classes, top1, correct, agreement, max_logit_diff, ms}
//                    (only with --eval-input; status "skipped: <reason>" when the set cannot run)}],
//    noop: null | {path, status, p50_ms, ...same fields as a batch...},
//    peak_rss_bytes}
// status is "ok" or "skipped: <reason>" (a model ORT cannot load, a non-float32 input, a fixed batch).
// peak_rss_bytes = process.resourceUsage().maxRSS in bytes, read after each model: the process's peak so
// far, so run one model per process (OrtPeer does) for a per-model figure.
// Statistics: per-call latency from process.hrtime.bigint() around `await session.run()`; percentiles by
// linear interpolation between closest ranks (type 7, as numpy and edgeq's C++ side); stddev with n-1;
// spread = (max - min) / median of the per-round p50s; throughput = batch / mean latency.
// The statistics functions are exported (percentileSorted, summarize, spreadOf) so tests can check them
// against the C++ ones; importing the module does not run the benchmark.
// Exit status: 0 when the JSON was printed (even with skipped models), 1 with one line on stderr on a
// usage error or when onnxruntime-node cannot be imported.

import fs from 'node:fs';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

import { PROTOCOL_USAGE, parsePeerArgs } from './args.mjs';
import { evaluateOrSkip, typedFromBytes } from './evaluate.mjs';

const USAGE = `usage: node ort_bench.mjs ${PROTOCOL_USAGE} MODEL.onnx...`;

function fail(message) {
  process.stderr.write(`ort_bench: ${message}\n`);
  process.exit(1);
}

// mulberry32: small, seedable, identical on every platform.
function seededUniform(seed, count) {
  const out = new Float32Array(count);
  let a = seed >>> 0;
  for (let i = 0; i < count; ++i) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  return out;
}

export function percentileSorted(sorted, q) {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  if (lo + 1 >= sorted.length) return sorted[sorted.length - 1];
  return sorted[lo] + (h - lo) * (sorted[lo + 1] - sorted[lo]);
}

export function summarize(samplesMs) {
  const sorted = Float64Array.from(samplesMs).sort();
  const n = sorted.length;
  const mean = sorted.reduce((s, v) => s + v, 0) / n;
  const variance = n > 1 ? sorted.reduce((s, v) => s + (v - mean) * (v - mean), 0) / (n - 1) : 0;
  return {
    p50_ms: percentileSorted(sorted, 0.5), p95_ms: percentileSorted(sorted, 0.95),
    p99_ms: percentileSorted(sorted, 0.99), mean_ms: mean, min_ms: sorted[0], max_ms: sorted[n - 1],
    stddev_ms: Math.sqrt(variance),
  };
}

export function spreadOf(roundP50s) {
  if (roundP50s.length < 2) return 0;
  const sorted = Float64Array.from(roundP50s).sort();
  const median = percentileSorted(sorted, 0.5);
  return median > 0 ? (sorted[sorted.length - 1] - sorted[0]) / median : 0;
}

async function measure(session, feeds, batch, warmup, runs, rounds) {
  for (let i = 0; i < warmup; ++i) await session.run(feeds);
  const all = [];
  const roundP50s = [];
  for (let r = 0; r < rounds; ++r) {
    const samples = new Float64Array(runs);
    for (let i = 0; i < runs; ++i) {
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      samples[i] = Number(process.hrtime.bigint() - t0) / 1e6;
    }
    roundP50s.push(summarize(samples).p50_ms);
    all.push(...samples);
  }
  const stats = summarize(all);
  return {
    batch, status: 'ok', runs, rounds, ...stats, round_p50_ms: roundP50s, spread: spreadOf(roundP50s),
    throughput_items_per_s: stats.mean_ms > 0 ? (batch * 1000) / stats.mean_ms : 0,
  };
}

function sampleShapeOf(session, opts) {
  if (session.inputNames.length !== 1) {
    throw new Error(`has ${session.inputNames.length} inputs; ort_bench feeds exactly one`);
  }
  const meta = session.inputMetadata ? session.inputMetadata[0] : null;
  if (meta && meta.isTensor && meta.type !== 'float32') throw new Error(`input type is ${meta.type}, not float32`);
  const dims = meta && meta.isTensor ? meta.shape : [];
  const rest = dims.slice(1);
  const known = rest.length > 0 && rest.every((d) => typeof d === 'number' && d > 0);
  if (opts.shape) return { sampleShape: opts.shape, fixedBatch: typeof dims[0] === 'number' && dims[0] > 0 ? dims[0] : null };
  if (!known) throw new Error(`input shape [${dims.join(', ')}] has unknown sample dims: pass --shape`);
  return { sampleShape: rest, fixedBatch: typeof dims[0] === 'number' && dims[0] > 0 ? dims[0] : null };
}

function batchData(source, sampleElements, batch, seed) {
  const total = sampleElements * batch;
  if (!source) return seededUniform(seed, total);
  const out = new Float32Array(total);
  const k = source.length / sampleElements;
  for (let b = 0; b < batch; ++b) {
    const from = (b % k) * sampleElements;
    out.set(source.subarray(from, from + sampleElements), b * sampleElements);
  }
  return out;
}

function maxRssBytes() {
  return process.resourceUsage().maxRSS * 1024;  // Node reports kilobytes
}

async function benchModel(ort, path, sessionOptions, opts, source, batchesWanted, label, evalSet = null) {
  const result = { path, status: 'ok' };
  let session;
  try {
    const t0 = process.hrtime.bigint();
    session = await ort.InferenceSession.create(path, sessionOptions);
    result.session_ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const { sampleShape, fixedBatch } = sampleShapeOf(session, opts);
    const sampleElements = sampleShape.reduce((p, d) => p * d, 1);
    if (source && source.length % sampleElements !== 0) {
      throw new Error(`--input holds ${source.length} floats, not a multiple of one sample (${sampleElements})`);
    }
    result.input_name = session.inputNames[0];
    result.sample_shape = sampleShape;
    result.batches = [];
    for (const batch of batchesWanted) {
      if (fixedBatch !== null && fixedBatch !== batch) {
        result.batches.push({ batch, status: `skipped: ${label} has a fixed batch of ${fixedBatch}` });
        continue;
      }
      const data = batchData(source, sampleElements, batch, opts.seed);
      const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [batch, ...sampleShape]) };
      const runs = batch > 1 ? opts.batchRuns : opts.runs;
      result.batches.push(await measure(session, feeds, batch, opts.warmup, runs, opts.rounds));
    }
    // The peak before the evaluation set is read: the figure is the model's, not the data's.
    result.peak_rss_bytes = maxRssBytes();
    if (evalSet) result.eval = await evaluateOrSkip(ort, session, sampleShape, fixedBatch, evalSet());
  } catch (e) {
    result.status = `skipped: ${String(e && e.message ? e.message : e).split('\n')[0]}`;
  } finally {
    if (session) await session.release();
  }
  result.peak_rss_bytes ??= maxRssBytes();
  return result;
}

async function main() {
  const opts = parsePeerArgs(process.argv.slice(2), { usage: USAGE, fail });
  let ort;
  try {
    ort = await import('onnxruntime-node');
  } catch (e) {
    fail(`cannot import onnxruntime-node (run npm install in tools/peers): ${String(e.message).split('\n')[0]}`);
  }
  const readTyped = (file, ArrayType, flag) => typedFromBytes(fs.readFileSync(file), ArrayType, `${flag} ${file}`);
  let source = null;
  try {
    source = opts.input ? readTyped(opts.input, Float32Array, '--input') : null;
  } catch (e) {
    fail(e.code ? `--input ${opts.input}: ${e.code}` : e.message);
  }
  for (const file of [opts.evalInput, opts.evalLabels, opts.evalReference].filter(Boolean)) {
    if (!fs.existsSync(file)) fail(`${file}: no such file`);
  }
  // Read on first use, after the first model's timing and peak RSS; a bad file skips the evaluation only.
  let evalData = null;
  const evalSet = !opts.evalInput ? null : async () => (evalData ??= {
    input: readTyped(opts.evalInput, Float32Array, '--eval-input'),
    labels: opts.evalLabels ? readTyped(opts.evalLabels, Int32Array, '--eval-labels') : null,
    reference: opts.evalReference ? readTyped(opts.evalReference, Float32Array, '--eval-reference') : null,
    batch: opts.evalBatch, limit: opts.evalLimit,
  });
  const sessionOptions = {
    executionProviders: ['cpu'], intraOpNumThreads: opts.threads, interOpNumThreads: 1,
    graphOptimizationLevel: 'all', executionMode: 'sequential',
  };
  const out = {
    tool: 'ort_bench',
    ort_version: (ort.env && ort.env.versions && ort.env.versions.node) || 'unknown',
    node_version: process.version,
    protocol: {
      warmup: opts.warmup, runs: opts.runs, batch_runs: opts.batchRuns, rounds: opts.rounds, batches: opts.batches,
      threads: opts.threads, inter_op_threads: 1, graph_optimization: 'all', execution_mode: 'sequential',
      percentile: 'linear interpolation between closest ranks (type 7)',
    },
    input: opts.input ? { source: 'file', path: opts.input } : { source: 'random', seed: opts.seed },
    models: [],
    noop: null,
  };
  for (const path of opts.models) {
    out.models.push(await benchModel(ort, path, sessionOptions, opts, source, opts.batches, path, evalSet));
  }
  if (opts.noop) {
    // Its own input: the no-op's shape need not match the models'; the content does not matter to Identity.
    const noop = await benchModel(ort, opts.noop, sessionOptions, { ...opts, shape: null }, null, [1], opts.noop);
    const b1 = noop.batches && noop.batches[0];
    out.noop = b1 && b1.status === 'ok' ? { path: opts.noop, session_ms: noop.session_ms, ...b1 }
      : { path: opts.noop, status: noop.status !== 'ok' ? noop.status : b1.status };
  }
  out.peak_rss_bytes = maxRssBytes();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

// Imported as a module (edgeq's tests compare these statistics with the C++ ones), do not run.
if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  main().catch((e) => fail(String(e && e.stack ? e.stack : e).split('\n')[0]));
}
