// Time from navigation start (performance.timeOrigin) to the first prediction's logits: module import,
// wasm fetch + compile, model fetch, Edgeq.load and one run. Query: model=URL, shape=D,D,.. (one sample).
// window.edgeqFirstPrediction: a promise of {status, ms, transferred_bytes, resources}; transferred_bytes
// (Resource Timing's transferSize, 0 for a response the HTTP cache served) tells a warm visit from a cold one.
const started = import('../edgeq/edgeq.mjs');

window.edgeqFirstPrediction = (async () => {
  try {
    const { Edgeq } = await started;
    const params = new URLSearchParams(location.search);
    const response = await fetch(params.get('model'));
    if (!response.ok) throw new Error(`GET ${params.get('model')}: HTTP ${response.status}`);
    const session = await Edgeq.load(await response.arrayBuffer());
    const sample = params.get('shape').split(',').map(Number);
    const data = new Float32Array(sample.reduce((p, d) => p * d, 1)).fill(0.5);
    const [logits] = session.run(data, [1, ...sample]);
    const ms = performance.now();
    if (!logits || logits.data.length === 0) throw new Error('the model returned no output');
    session.dispose();
    const resources = performance.getEntriesByType('resource').map((e) => ({ name: new URL(e.name).pathname,
      transfer_bytes: e.transferSize }));
    return { status: 'ok', ms, transferred_bytes: resources.reduce((s, r) => s + r.transfer_bytes, 0), resources };
  } catch (e) {
    return { status: `skipped: ${String(e && e.message ? e.message : e).split('\n')[0]}` };
  }
})();
