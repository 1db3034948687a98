// Page-side helpers shared by the browser peers' pages (ort_web/page.mjs, edgeq_wasm/page.mjs): fetching
// the job's files, the evaluation set once per page, and batches cycled from the samples. Served at
// /browser_page.mjs by their run.mjs next to /evaluate.mjs. A benchmark peer, never edgeq's product path.
import { typedFromBytes } from './evaluate.mjs';

export async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

// The evaluation set, fetched once per page (every model of a run scores the same one).
let evalSetPromise = null;
export function evalSetOf(job) {
  const typed = async (url, ArrayType) => (url ? typedFromBytes(await fetchBytes(url), ArrayType, url) : null);
  evalSetPromise ??= (async () => ({
    input: await typed(job.inputUrl, Float32Array), labels: await typed(job.labelsUrl, Int32Array),
    reference: await typed(job.referenceUrl, Float32Array), batch: job.batch, limit: job.limit,
  }))();
  return evalSetPromise;
}

// `batch` samples of `sampleElements` floats, cycling through `source` when it holds fewer.
export function batchData(source, sampleElements, batch) {
  const out = new Float32Array(sampleElements * batch);
  const k = source.length / sampleElements;
  for (let b = 0; b < batch; ++b) {
    const from = (b % k) * sampleElements;
    out.set(source.subarray(from, from + sampleElements), b * sampleElements);
  }
  return out;
}

// The sample shape and the fixed batch (null when open) from an input's dims ([batch, ...sample]; a
// dim that is not a positive number is open), or `shapeOverride` (--shape) for the sample.
export function sampleShapeFromDims(dims, shapeOverride) {
  const fixedBatch = typeof dims[0] === 'number' && dims[0] > 0 ? dims[0] : null;
  if (shapeOverride) return { sampleShape: shapeOverride, fixedBatch };
  const rest = dims.slice(1);
  if (rest.length === 0 || !rest.every((d) => typeof d === 'number' && d > 0)) {
    throw new Error(`input shape [${dims.join(', ')}] has unknown sample dims: pass --shape`);
  }
  return { sampleShape: rest, fixedBatch };
}

// The job's input samples (its input file, else one sample of 0.5), checked to hold whole samples.
export async function inputSamples(job, sampleElements) {
  const source = job.inputUrl ? new Float32Array((await fetchBytes(job.inputUrl)).slice().buffer)
    : new Float32Array(sampleElements).fill(0.5);
  if (source.length % sampleElements !== 0) {
    throw new Error(`input holds ${source.length} floats, not a multiple of one sample (${sampleElements})`);
  }
  return source;
}
