// evaluate.mjs: accuracy of one onnxruntime session on an evaluation set, shared by ort_bench.mjs
// (onnxruntime-node) and ort_web/page.mjs (onnxruntime-web in the browser), so both ORT peers score
// alike. Pure: no Node or DOM API, only performance.now(), which both have.
//
// The set (the flags in args.mjs): input, float32 samples n x (one sample); labels, int32 class per
// sample, or null; reference, float32 logits of the fp32 model [n, classes], or null. Runs after the
// timing, in batches, untimed by the protocol (its wall time is reported as eval.ms).
// Result (the "eval" object of a model in the peers' JSON):
//   {status: "ok", samples, total, batch, classes, top1, correct, agreement, max_logit_diff, ms}
// samples = how many were evaluated (total unless limited); top1 = correct / samples (null without
// labels); agreement = fraction whose argmax equals the reference's; max_logit_diff = the largest
// |logit - reference logit| (both null without a reference). Argmax ties go to the lowest index, as
// std::max_element and numpy.argmax.

// Raw little-endian bytes as a typed array; copies, since a Buffer's byteOffset need not be aligned.
export function typedFromBytes(bytes, ArrayType, what) {
  if (bytes.length === 0 || bytes.length % ArrayType.BYTES_PER_ELEMENT !== 0) {
    throw new Error(`${what}: ${bytes.length} bytes is not ${ArrayType.name} data`);
  }
  const out = new ArrayType(bytes.length / ArrayType.BYTES_PER_ELEMENT);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

function argmax(values, begin, end) {
  let best = begin;
  for (let i = begin + 1; i < end; ++i) if (values[i] > values[best]) best = i;
  return best - begin;
}

// session: an ort.InferenceSession with one float32 input and [batch, classes] first output.
// fixedBatch: the model's own batch dim when fixed (the last batch is zero-padded to it), else null.
// set: {input, labels, reference, batch, limit}.
export async function evaluate(ort, session, sampleShape, fixedBatch, set) {
  const started = performance.now();
  const sampleElements = sampleShape.reduce((p, d) => p * d, 1);
  if (set.input.length % sampleElements !== 0) {
    throw new Error(`eval input holds ${set.input.length} floats, not a multiple of one sample (${sampleElements})`);
  }
  const total = set.input.length / sampleElements;
  if (set.labels && set.labels.length !== total) {
    throw new Error(`eval labels hold ${set.labels.length} entries for ${total} samples`);
  }
  const n = set.limit > 0 ? Math.min(set.limit, total) : total;
  const batch = fixedBatch ?? set.batch;
  let classes = 0;
  let correct = 0;
  let agree = 0;
  let maxDiff = 0;
  for (let start = 0; start < n; start += batch) {
    const count = Math.min(batch, n - start);
    const rows = fixedBatch ?? count;
    const data = new Float32Array(rows * sampleElements);
    data.set(set.input.subarray(start * sampleElements, (start + count) * sampleElements));
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', data, [rows, ...sampleShape]) });
    const logits = out[session.outputNames[0]];
    if (logits.dims.length !== 2 || logits.dims[0] !== rows) {
      throw new Error(`first output is [${logits.dims.join(', ')}], not [batch, classes]`);
    }
    classes = logits.dims[1];
    if (set.reference && set.reference.length !== total * classes) {
      throw new Error(`eval reference holds ${set.reference.length} floats, not ${total} samples x ${classes} classes`);
    }
    for (let i = 0; i < count; ++i) {
      const predicted = argmax(logits.data, i * classes, (i + 1) * classes);
      if (set.labels) correct += predicted === set.labels[start + i] ? 1 : 0;
      if (set.reference) {
        const ref = (start + i) * classes;
        agree += predicted === argmax(set.reference, ref, ref + classes) ? 1 : 0;
        for (let c = 0; c < classes; ++c) {
          maxDiff = Math.max(maxDiff, Math.abs(logits.data[i * classes + c] - set.reference[ref + c]));
        }
      }
    }
  }
  return {
    status: 'ok', samples: n, total, batch, classes, top1: set.labels ? correct / n : null,
    correct: set.labels ? correct : null, agreement: set.reference ? agree / n : null,
    max_logit_diff: set.reference ? maxDiff : null, ms: performance.now() - started,
  };
}

// evaluate() that never throws: a failure, reading the set included (`set` may be a promise of it),
// is the result's status, so the latency figures stand.
export async function evaluateOrSkip(ort, session, sampleShape, fixedBatch, set) {
  try {
    return await evaluate(ort, session, sampleShape, fixedBatch, await set);
  } catch (e) {
    return { status: `skipped: ${String(e && e.message ? e.message : e).split('\n')[0]}` };
  }
}
