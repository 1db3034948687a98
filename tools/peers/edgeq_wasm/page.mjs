// Browser side of the edgeq-wasm peer (see run.mjs): times session.run() of edgeq's WebAssembly module
// (web/edgeq/edgeq.mjs, served at /edgeq/ from the wasm build) and hands the raw samples back, as
// ../ort_web/page.mjs does for onnxruntime-web; the evaluation set is scored by ../evaluate.mjs through
// an adapter with onnxruntime's session shape, so both browser peers score alike.
import { Edgeq } from '../edgeq/edgeq.mjs';

import { batchData, evalSetOf, fetchBytes, inputSamples, sampleShapeFromDims } from '../browser_page.mjs';
import { evaluateOrSkip } from '../evaluate.mjs';

// What evaluate.mjs calls: ort.Tensor and an InferenceSession's inputNames/outputNames/run(feeds).
const tensorApi = {
  Tensor: class {
    constructor(type, data, dims) {
      Object.assign(this, { type, data, dims });
    }
  },
};
function sessionApi(session) {
  const input = session.inputs[0].name;
  const output = session.outputs[0].name;
  return {
    inputNames: [input],
    outputNames: [output],
    run: async (feeds) => {
      const [out] = session.run(feeds[input].data, feeds[input].dims);
      return { [output]: { dims: out.shape, data: out.data } };
    },
  };
}

function sampleShapeOf(session, shapeOverride) {
  if (session.inputs.length !== 1) throw new Error(`has ${session.inputs.length} inputs; the peer feeds exactly one`);
  const { dtype, shape } = session.inputs[0];
  if (dtype !== 'float32') throw new Error(`input type is ${dtype}, not float32`);
  return sampleShapeFromDims(shape, shapeOverride);
}

function timeRuns(session, data, shape, warmup, runs, rounds) {
  for (let i = 0; i < warmup; ++i) session.run(data, shape);
  const samplesMs = [];  // round after round
  for (let r = 0; r < rounds; ++r) {
    for (let i = 0; i < runs; ++i) {
      const t0 = performance.now();
      session.run(data, shape);
      samplesMs.push(performance.now() - t0);
    }
  }
  return samplesMs;
}

// One model, in ../ort_web/page.mjs's result format.
async function benchModel(job) {
  const result = { status: 'ok' };
  let session;
  try {
    const bytes = await fetchBytes(job.modelUrl);
    const t0 = performance.now();
    session = await Edgeq.load(bytes);
    result.session_ms = performance.now() - t0;
    const { sampleShape, fixedBatch } = sampleShapeOf(session, job.shape);
    const sampleElements = sampleShape.reduce((p, d) => p * d, 1);
    const source = await inputSamples(job, sampleElements);
    result.input_name = session.inputs[0].name;
    result.sample_shape = sampleShape;
    result.batches = [];
    for (const batch of job.batches) {
      if (fixedBatch !== null && fixedBatch !== batch) {
        result.batches.push({ batch, status: `skipped: the model has a fixed batch of ${fixedBatch}` });
        continue;
      }
      const runs = batch > 1 ? job.batchRuns : job.runs;
      const samples = timeRuns(session, batchData(source, sampleElements, batch), [batch, ...sampleShape], job.warmup,
        runs, job.rounds);
      result.batches.push({ batch, status: 'ok', runs, rounds: job.rounds, samples_ms: samples });
    }
    if (job.eval) {
      result.eval = await evaluateOrSkip(tensorApi, sessionApi(session), sampleShape, fixedBatch, evalSetOf(job.eval));
    }
  } catch (e) {
    result.status = `skipped: ${String(e && e.message ? e.message : e).split('\n')[0]}`;
  } finally {
    if (session) session.dispose();
  }
  return result;
}

// config: {jobs: [...]} as ../browser_peer.mjs's planJobs makes them.
window.edgeqBench = async (config) => {
  const out = {
    edgeq_version: await Edgeq.version(),
    cross_origin_isolated: self.crossOriginIsolated === true,
    hardware_concurrency: navigator.hardwareConcurrency,
    user_agent: navigator.userAgent,
    results: [],
  };
  for (const job of config.jobs) out.results.push(await benchModel(job));
  return out;
};
document.getElementById('status').textContent = 'ready';
