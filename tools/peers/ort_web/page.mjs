// Browser side of the onnxruntime-web peer (see run.mjs): times session.run() and hands the raw
// samples back; run.mjs computes the statistics with ort_bench.mjs's functions, so both ORT peers
// summarize identically, and scores the evaluation set with ../evaluate.mjs, as ort_bench.mjs does.
// Served from tools/peers/, so node_modules/ is one level up.
import * as ort from '../node_modules/onnxruntime-web/dist/ort.wasm.min.mjs';

import { batchData, evalSetOf, fetchBytes, inputSamples, sampleShapeFromDims } from '../browser_page.mjs';
import { evaluateOrSkip } from '../evaluate.mjs';

ort.env.wasm.wasmPaths = new URL('../node_modules/onnxruntime-web/dist/', import.meta.url).href;
ort.env.wasm.proxy = false;
ort.env.logLevel = 'error';

function sampleShapeOf(session, shapeOverride) {
  if (session.inputNames.length !== 1) throw new Error(`has ${session.inputNames.length} inputs; the peer feeds exactly one`);
  const meta = session.inputMetadata ? session.inputMetadata[0] : null;
  if (meta && meta.isTensor && meta.type !== 'float32') throw new Error(`input type is ${meta.type}, not float32`);
  return sampleShapeFromDims(meta && meta.isTensor ? meta.shape : [], shapeOverride);
}

async function timeRuns(session, feeds, warmup, runs, rounds) {
  for (let i = 0; i < warmup; ++i) await session.run(feeds);
  const samplesMs = [];  // round after round
  for (let r = 0; r < rounds; ++r) {
    for (let i = 0; i < runs; ++i) {
      const t0 = performance.now();
      await session.run(feeds);
      samplesMs.push(performance.now() - t0);
    }
  }
  return samplesMs;
}

// One model: {status, session_ms, input_name, sample_shape, batches: [{batch, status, runs, rounds, samples_ms}],
// eval (with job.eval): evaluate.mjs's result}
async function benchModel(job) {
  const result = { status: 'ok' };
  let session;
  try {
    const bytes = await fetchBytes(job.modelUrl);
    const t0 = performance.now();
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['wasm'], graphOptimizationLevel: 'all', executionMode: 'sequential',
    });
    result.session_ms = performance.now() - t0;
    const { sampleShape, fixedBatch } = sampleShapeOf(session, job.shape);
    const sampleElements = sampleShape.reduce((p, d) => p * d, 1);
    const source = await inputSamples(job, sampleElements);
    result.input_name = session.inputNames[0];
    result.sample_shape = sampleShape;
    result.batches = [];
    for (const batch of job.batches) {
      if (fixedBatch !== null && fixedBatch !== batch) {
        result.batches.push({ batch, status: `skipped: the model has a fixed batch of ${fixedBatch}` });
        continue;
      }
      const data = batchData(source, sampleElements, batch);
      const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [batch, ...sampleShape]) };
      const runs = batch > 1 ? job.batchRuns : job.runs;
      const samples = await timeRuns(session, feeds, job.warmup, runs, job.rounds);
      result.batches.push({ batch, status: 'ok', runs, rounds: job.rounds, samples_ms: samples });
    }
    if (job.eval) result.eval = await evaluateOrSkip(ort, session, sampleShape, fixedBatch, evalSetOf(job.eval));
  } catch (e) {
    result.status = `skipped: ${String(e && e.message ? e.message : e).split('\n')[0]}`;
  } finally {
    if (session) await session.release();
  }
  return result;
}

// config: {threads, jobs: [{modelUrl, inputUrl|null, shape|null, batches, warmup, runs, batchRuns, rounds,
//                          eval: null | {inputUrl, labelsUrl|null, referenceUrl|null, batch, limit}}]}
window.edgeqBench = async (config) => {
  // numThreads is read once, when the WASM module starts: one page load per thread count.
  ort.env.wasm.numThreads = config.threads;
  const out = {
    ort_version: ort.env.versions ? ort.env.versions.web : 'unknown',
    cross_origin_isolated: self.crossOriginIsolated === true,
    hardware_concurrency: navigator.hardwareConcurrency,
    user_agent: navigator.userAgent,
    results: [],
  };
  for (const job of config.jobs) out.results.push(await benchModel(job));
  return out;
};
document.getElementById('status').textContent = 'ready';
