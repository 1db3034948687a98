#!/usr/bin/python3
"""Per-call cost of edgeq's Python module beside the C++ Session and onnxruntime-node.

For each model: p50 of edgeq.Session.run() from Python (warmup, then rounds x runs timed calls, one
thread, batch 1, a fixed uniform [0,1) input), and from the same process `edgeq bench MODEL --threads 1
--peers ort` (DESIGN.md's protocol): the C++ Session's p50 and onnxruntime-node's p50 and its per-call
overhead (its Identity no-op model). Python's overhead = its p50 - the C++ p50 on the same model.

Usage (Debian python3 + numpy + onnx; PYTHONPATH at the module):
  PYTHONPATH=build/python bench/embed_overhead.py --edgeq build/bin/edgeq [--tiny DIR] MODEL.onnx...
--tiny DIR writes DIR/tiny.onnx (Relu on [batch, 16]: a run that costs almost nothing, so its p50 is the
per-call overhead) and measures it first.
Without --edgeq (or when it fails) only the Python figures are printed."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import edgeq


def write_tiny_model(path):
    import onnx
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 16])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "tiny", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def python_p50_ms(path, warmup, runs, rounds):
    s = edgeq.Session(path, threads=1)
    rng = np.random.default_rng(1)
    feeds = {}
    for i in s.inputs:
        shape = [1 if d is None else d for d in i.shape]
        feeds[i.name] = rng.random(shape).astype(i.dtype)
    for _ in range(warmup):
        s.run(feeds)
    samples = []
    for _ in range(rounds):
        for _ in range(runs):
            t0 = time.perf_counter_ns()
            s.run(feeds)
            samples.append((time.perf_counter_ns() - t0) / 1e6)
    return float(np.percentile(samples, 50))  # linear interpolation, as edgeq's C++ side and ort_bench


def cli_rows(cli, models, warmup, runs, rounds):
    """{(model path, engine): row} from `edgeq bench --json`, one model per call (bench feeds every model
    of a call the same input shape); a failing model is left out with a note on stderr."""
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, m in enumerate(models):
            out = os.path.join(tmp, "bench%d.json" % i)
            cmd = [cli, "bench", m, "--threads", "1", "--batch", "1", "--peers", "ort", "--warmup", str(warmup), "--runs",
                   str(runs), "--rounds", str(rounds), "--json", out]
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if p.returncode != 0 or not os.path.exists(out):
                sys.stderr.write("embed_overhead: %s failed:\n%s\n" % (" ".join(cmd), p.stdout[-2000:]))
                continue
            with open(out) as f:
                for r in json.load(f)["rows"]:
                    rows[(m, r["engine"])] = r
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*")
    ap.add_argument("--edgeq", help="the edgeq CLI, for the C++ Session and onnxruntime-node figures")
    ap.add_argument("--tiny", help="write tiny.onnx here and measure it first")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    if a.tiny:
        os.makedirs(a.tiny, exist_ok=True)
        write_tiny_model(os.path.join(a.tiny, "tiny.onnx"))
        a.models.insert(0, os.path.join(a.tiny, "tiny.onnx"))

    py = {m: python_p50_ms(m, a.warmup, a.runs, a.rounds) for m in a.models}
    rows = cli_rows(a.edgeq, a.models, a.warmup, a.runs, a.rounds) if a.edgeq else {}
    print("edgeq %s, Python %s, numpy %s; p50 per call, batch 1, 1 thread, %d x %d runs" %
          (edgeq.__version__, sys.version.split()[0], np.__version__, a.rounds, a.runs))
    print("| model | edgeq Python (ms) | edgeq C++ (ms) | Python overhead (us) | onnxruntime-node (ms) | ORT no-op call (ms) |")
    print("|---|---|---|---|---|---|")
    for m in a.models:
        engines = {engine: r for (model, engine), r in rows.items() if model == m}
        cpp = next((r["p50_ms"] for e, r in engines.items() if e.startswith("edgeq") and r.get("p50_ms") is not None), None)
        ort = next((r for e, r in engines.items() if e.startswith("onnxruntime") and "web" not in e and r.get("p50_ms") is not None), None)
        fmt = lambda v, scale=1.0, f="%.4f": "n/a" if v is None else f % (v * scale)
        print("| %s | %s | %s | %s | %s | %s |" % (m, fmt(py[m]), fmt(cpp), fmt(None if cpp is None else py[m] - cpp, 1e3, "%.1f"),
                                                 fmt(ort and ort["p50_ms"]), fmt(ort and ort.get("call_overhead_ms"))))
    if a.edgeq and rows:
        print("engines in edgeq bench's reports: %s" % sorted({k[1] for k in rows}))


if __name__ == "__main__":
    main()
