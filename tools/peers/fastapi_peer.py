#!/usr/bin/python3
"""fastapi_peer.py: seed 001's serving stack (FastAPI + uvicorn from Debian, the model in python3-torch) as a
benchmark peer for `edgeq serve` (bench/serve/bench_serve.sh). Never part of edgeq's product path.

Usage: /usr/bin/python3 fastapi_peer.py MODEL.onnx PORT
The model is rebuilt in torch from the ONNX initializers (torch_bench.build_module: edgeq's cnn-s/cnn-m/cnn-bn)
and run eagerly, one intra-op thread. POST /infer takes the input as raw little-endian float32 (one sample)
and answers {"logits": [...]}, with X-Request-ID and X-Latency-Ms like the seed's app; GET /healthz.
"""
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI, Request, Response  # noqa: E402
from onnx import numpy_helper  # noqa: E402

import torch_bench  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)
model_path, port = sys.argv[1], int(sys.argv[2])
_, module, sample_shape = torch_bench.build_module(torch, onnx, numpy_helper, model_path)
app = FastAPI()


@app.get("/healthz")
def healthz():
    return {"ok": True}


@app.post("/infer")
async def infer(request: Request):
    start = time.perf_counter()
    body = await request.body()
    x = torch.from_numpy(numpy.frombuffer(body, dtype=numpy.float32).copy()).reshape(1, *sample_shape)
    with torch.no_grad():
        y = module(x)
    headers = {"X-Request-ID": request.headers.get("x-request-id", uuid.uuid4().hex[:16]),
               "X-Latency-Ms": f"{(time.perf_counter() - start) * 1000:.3f}"}
    return Response(content='{"logits": [' + ",".join(f"{v:.7g}" for v in y[0].tolist()) + "]}",
                    media_type="application/json", headers=headers)


uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
