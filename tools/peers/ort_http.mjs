#!/usr/bin/env node
// ort_http.mjs: a Node `http` server around onnxruntime-node, the peer `edgeq serve` is benchmarked against
// (bench/serve/bench_serve.sh). Never part of edgeq's product path.
// Usage: node tools/peers/ort_http.mjs MODEL.onnx PORT
// POST /infer: raw little-endian float32 input (one sample, the model's input shape with batch 1) ->
// {"logits": [...]}; GET /healthz. One intra-op thread, keep-alive, X-Request-ID and X-Latency-Ms headers.
import http from 'node:http';
import crypto from 'node:crypto';
import ort from 'onnxruntime-node';

const [modelPath, portText] = process.argv.slice(2);
const session = await ort.InferenceSession.create(modelPath, {
  intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all',
});
const inputName = session.inputNames[0];
const outputName = session.outputNames[0];
// The input's dims from the model (batch 1): read from the first run's error-free shape guess.
const meta = session.inputMetadata ? session.inputMetadata[0] : null;
let dims = meta && meta.shape ? meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1)) : null;

const server = http.createServer((req, res) => {
  const start = process.hrtime.bigint();
  if (req.method === 'GET' && req.url === '/healthz') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{"ok":true}');
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    try {
      const body = Buffer.concat(chunks);
      const data = new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
      const shape = dims || [1, data.length];
      const out = await session.run({ [inputName]: new ort.Tensor('float32', data, shape) });
      const logits = Array.from(out[outputName].data);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'X-Request-ID': req.headers['x-request-id'] || crypto.randomBytes(8).toString('hex'),
        'X-Latency-Ms': ms.toFixed(3),
      });
      res.end(JSON.stringify({ logits }));
    } catch (e) {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: String(e.message || e) }));
    }
  });
});
server.keepAliveTimeout = 5000;
server.listen(Number(portText), '127.0.0.1');
