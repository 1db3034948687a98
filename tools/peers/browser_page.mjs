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
