#!/usr/bin/python3
"""torch_bench.py: PyTorch (Debian's python3-torch) side of edgeq's measurement protocol.

A benchmark peer and test oracle, never part of edgeq's product path. Run by edgeq::bench::TorchPeer
with /usr/bin/python3 (the interpreter that has Debian's torch and onnx).

It rebuilds the architecture an edgeq export was trained as (cnn-s, cnn-m, cnn-bn: the layer order of
src/train/models.cpp) as a torch.nn.Sequential, loads the weights from the ONNX initializers (named
after the layers: "conv1.weight", "bn1.running_mean", ...; a BatchNorm folded into its Conv at export
leaves no "bnK.*" initializers and the Conv then carries the bias), and times it eagerly and as
TorchScript (torch.jit.trace + freeze), with the protocol of ort_bench.mjs.

Usage:
  /usr/bin/python3 torch_bench.py [options] MODEL.onnx...
Options (as ort_bench.mjs):
  --threads N       torch.set_num_threads (default 1); inter-op threads 1
  --warmup N --runs N --batch-runs N --rounds N --batches 1,64
  --input FILE      raw little-endian float32 samples (k x one sample); a batch of b takes samples
                    0..b-1 modulo k; default: uniform [0,1) from numpy's generator seeded with --seed
  --seed S          (default 1)
  --modes LIST      eager,torchscript (default both)
  --dump-logits F   write the eager logits of all --input samples (one batch) to F as raw float32
  --eval-input F [--eval-labels F] [--eval-reference F] [--eval-batch N] [--eval-limit N]
                    after timing, run each mode on this labelled set (formats and figures as
                    tools/peers/args.mjs and evaluate.mjs: float32 samples, int32 labels, float32
                    reference logits of the fp32 model; batches of 64 by default)
Output: one JSON object on stdout:
  {tool, torch_version, numpy_version, threads, protocol{...},
   models: [{path, engine: "pytorch-eager"|"torchscript", status, arch, session_ms, peak_rss_bytes,
             batches: [{batch, status, runs, rounds, p50_ms, p95_ms, p99_ms, mean_ms, min_ms, max_ms,
                        stddev_ms, round_p50_ms, spread, throughput_items_per_s}],
             noop: {p50_ms, ...},
             eval: {status, samples, total, batch, classes, top1, correct, agreement, max_logit_diff, ms}}],
   script_vs_eager_max_abs: float | null}
status "ok" or "skipped: <reason>" (architecture unknown, quantized file, ...). noop: an nn.Identity run
the same way in that mode, i.e. the per-call cost of the Python call itself. session_ms: building the
module and loading the weights (eager), plus tracing and freezing (torchscript).
Statistics: percentiles by linear interpolation between closest ranks (type 7, as edgeq's C++ side),
stddev with n-1, spread = (max - min) / median of the per-round p50s, throughput = batch / mean.
Exit status 0 when the JSON was printed; 1 with one line on stderr on a usage error or missing torch.
"""

import argparse
import os
import json
import resource
import sys
import time

ARCHS = {
    # (kind, layer name) in the order of src/train/models.cpp; sizes come from the weights.
    "cnn-s": [("conv", "conv1"), ("relu", ""), ("pool", ""), ("conv", "conv2"), ("relu", ""), ("pool", ""),
              ("flatten", ""), ("fc", "fc1"), ("relu", ""), ("fc", "fc2")],
    "cnn-m": [("conv", "conv1"), ("relu", ""), ("pool", ""), ("conv", "conv2"), ("relu", ""), ("pool", ""),
              ("conv", "conv3"), ("relu", ""), ("pool", ""), ("flatten", ""), ("fc", "fc1"), ("relu", ""),
              ("fc", "fc2")],
    "cnn-bn": [("conv", "conv1"), ("bn", "bn1"), ("relu", ""), ("pool", ""), ("conv", "conv2"), ("bn", "bn2"),
               ("relu", ""), ("pool", ""), ("dropout", ""), ("flatten", ""), ("fc", "fc1"), ("relu", ""),
               ("dropout", ""), ("fc", "fc2")],
}


class Skip(Exception):
    """A model this peer cannot run: reported as a skipped row, not an error."""


def skip_status(e):
    """The "skipped: <reason>" of an exception: a Skip's own words, else its type and first line."""
    if isinstance(e, Skip):
        return f"skipped: {e}"
    return f"skipped: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


def fail(message):
    sys.stderr.write(f"torch_bench: {message}\n")
    sys.exit(1)


def int_list(text):
    values = [int(v) for v in text.split(",")]
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"wants positive integers, got '{text}'")
    return values


def arch_of(model):
    meta = {p.key: p.value for p in model.metadata_props}
    if meta.get("arch") in ARCHS:
        return meta["arch"]
    name = model.graph.name
    if name.startswith("edgeq_") and name[len("edgeq_"):] in ARCHS:
        return name[len("edgeq_"):]
    raise Skip(f"architecture unknown (no 'arch' metadata naming one of {', '.join(ARCHS)})")


def build_module(torch, onnx, numpy_helper, path):
    model = onnx.load(path)
    arch = arch_of(model)
    weights = {}
    for init in model.graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT:
            raise Skip(f"initializer {init.name} is not float32 (a quantized file)")
        weights[init.name] = torch.from_numpy(numpy_helper.to_array(init).copy())
    nn = torch.nn

    def take(name):
        if name not in weights:
            raise Skip(f"{arch}: initializer '{name}' missing (not an edgeq {arch} export)")
        return weights[name]

    layers = []
    for kind, name in ARCHS[arch]:
        if kind == "conv":
            w = take(name + ".weight")
            bias = weights.get(name + ".bias")
            conv = nn.Conv2d(w.shape[1], w.shape[0], w.shape[2], padding=w.shape[2] // 2, bias=bias is not None)
            conv.weight.data.copy_(w)
            if bias is not None:
                conv.bias.data.copy_(bias)
            layers.append(conv)
        elif kind == "bn":
            if name + ".weight" not in weights:
                continue  # folded into the preceding Conv at export
            bn = nn.BatchNorm2d(take(name + ".weight").shape[0])
            bn.weight.data.copy_(take(name + ".weight"))
            bn.bias.data.copy_(take(name + ".bias"))
            bn.running_mean.copy_(take(name + ".running_mean"))
            bn.running_var.copy_(take(name + ".running_var"))
            layers.append(bn)
        elif kind == "fc":
            w = take(name + ".weight")
            bias = weights.get(name + ".bias")
            fc = nn.Linear(w.shape[1], w.shape[0], bias=bias is not None)
            fc.weight.data.copy_(w)
            if bias is not None:
                fc.bias.data.copy_(bias)
            layers.append(fc)
        elif kind == "relu":
            layers.append(nn.ReLU())
        elif kind == "pool":
            layers.append(nn.MaxPool2d(2))
        elif kind == "dropout":
            layers.append(nn.Dropout(0.0))
        elif kind == "flatten":
            layers.append(nn.Flatten())
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim][1:]
    if len(dims) != 3 or any(d <= 0 for d in dims):
        raise Skip(f"input sample shape {dims} is not a known C,H,W")
    return arch, nn.Sequential(*layers).eval(), dims


def percentile_sorted(s, q):
    h = (len(s) - 1) * q
    lo = int(h)
    if lo + 1 >= len(s):
        return s[-1]
    return s[lo] + (h - lo) * (s[lo + 1] - s[lo])


def summarize(samples_ms):
    s = sorted(samples_ms)
    n = len(s)
    mean = sum(s) / n
    var = sum((v - mean) ** 2 for v in s) / (n - 1) if n > 1 else 0.0
    return {"p50_ms": percentile_sorted(s, 0.5), "p95_ms": percentile_sorted(s, 0.95),
            "p99_ms": percentile_sorted(s, 0.99), "mean_ms": mean, "min_ms": s[0], "max_ms": s[-1],
            "stddev_ms": var ** 0.5}


def spread_of(p50s):
    if len(p50s) < 2:
        return 0.0
    s = sorted(p50s)
    median = percentile_sorted(s, 0.5)
    return (s[-1] - s[0]) / median if median > 0 else 0.0


def measure(torch, fn, x, batch, warmup, runs, rounds):
    with torch.inference_mode():
        for _ in range(warmup):
            fn(x)
        samples, p50s = [], []
        for _ in range(rounds):
            round_samples = []
            for _ in range(runs):
                t0 = time.perf_counter_ns()
                fn(x)
                round_samples.append((time.perf_counter_ns() - t0) / 1e6)
            p50s.append(summarize(round_samples)["p50_ms"])
            samples += round_samples
    stats = summarize(samples)
    return {"batch": batch, "status": "ok", "runs": runs, "rounds": rounds, **stats, "round_p50_ms": p50s,
            "spread": spread_of(p50s),
            "throughput_items_per_s": batch * 1000.0 / stats["mean_ms"] if stats["mean_ms"] > 0 else 0.0}


def batch_of(torch, source, sample_shape, batch):
    k = source.shape[0]
    idx = [b % k for b in range(batch)]
    return source[idx].reshape([batch, *sample_shape]).contiguous()


def read_eval_set(numpy, a):
    def read(path, dtype, flag):
        try:
            values = numpy.fromfile(path, dtype=dtype)
        except OSError as e:
            fail(f"{flag} {path}: {e.strerror}")
        if values.size == 0:
            fail(f"{flag} {path}: no data")
        return values
    return {"input": read(a.eval_input, "<f4", "--eval-input"),
            "labels": read(a.eval_labels, "<i4", "--eval-labels") if a.eval_labels else None,
            "reference": read(a.eval_reference, "<f4", "--eval-reference") if a.eval_reference else None}


def evaluate(torch, fn, sample_shape, data, batch, limit):
    """fn on the evaluation set in batches, scored as tools/peers/evaluate.mjs scores it."""
    started = time.perf_counter()
    elems = sample_shape[0] * sample_shape[1] * sample_shape[2]
    if data["input"].size % elems:
        raise Skip(f"eval input holds {data['input'].size} floats, not a multiple of one sample ({elems})")
    total = data["input"].size // elems
    labels, reference = data["labels"], data["reference"]
    if labels is not None and labels.size != total:
        raise Skip(f"eval labels hold {labels.size} entries for {total} samples")
    n = min(limit, total) if limit > 0 else total
    samples = torch.from_numpy(data["input"].reshape(total, *sample_shape))
    with torch.inference_mode():
        logits = torch.cat([fn(samples[s:s + batch]) for s in range(0, n, batch)]).numpy()
    classes = logits.shape[1]
    predicted = logits.argmax(axis=1)
    result = {"status": "ok", "samples": n, "total": total, "batch": batch, "classes": classes,
              "top1": None, "correct": None, "agreement": None, "max_logit_diff": None}
    if labels is not None:
        result["correct"] = int((predicted == labels[:n]).sum())
        result["top1"] = result["correct"] / n
    if reference is not None:
        if reference.size != total * classes:
            raise Skip(f"eval reference holds {reference.size} floats, not {total} samples x {classes} classes")
        ref = reference.reshape(total, classes)[:n]
        result["agreement"] = float((predicted == ref.argmax(axis=1)).mean())
        result["max_logit_diff"] = float(abs(logits - ref).max())
    result["ms"] = (time.perf_counter() - started) * 1e3
    return result


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def main():
    p = argparse.ArgumentParser(description="PyTorch peer of edgeq bench (see the module docstring)")
    p.add_argument("models", nargs="+")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--runs", type=int, default=300)
    p.add_argument("--batch-runs", type=int, default=30)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batches", type=int_list, default=[1, 64])
    p.add_argument("--input")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--modes", default="eager,torchscript")
    p.add_argument("--dump-logits")
    p.add_argument("--eval-input")
    p.add_argument("--eval-labels")
    p.add_argument("--eval-reference")
    p.add_argument("--eval-batch", type=int, default=64)
    p.add_argument("--eval-limit", type=int, default=0)
    a = p.parse_args()
    modes = a.modes.split(",")
    if any(m not in ("eager", "torchscript") for m in modes):
        fail(f"--modes wants eager and/or torchscript, got '{a.modes}'")
    if a.threads < 1 or a.runs < 1 or a.rounds < 1 or a.warmup < 0 or a.batch_runs < 1 or a.eval_batch < 1:
        fail("--threads, --runs, --rounds, --batch-runs, --eval-batch want >= 1 and --warmup >= 0")
    if a.eval_limit < 0:
        fail("--eval-limit wants >= 0")
    if (a.eval_labels or a.eval_reference) and not a.eval_input:
        fail("--eval-labels and --eval-reference need --eval-input")
    # OpenBLAS and OpenMP start their own pools when torch is imported; size them before that, or
    # idle BLAS threads spin on the cores the timed thread needs.
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(a.threads)
    # OpenMP workers spin while waiting by default; on a machine with other work on its cores (two
    # cores shared with compilers, say) that made cnn-s at 2 threads 160x slower (62 ms vs 0.38 ms p50).
    # Passive waiting is what a shared machine needs; set OMP_WAIT_POLICY yourself to override.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import numpy
        import onnx
        import torch
        from onnx import numpy_helper
    except ImportError as e:
        fail(f"cannot import torch/onnx/numpy (run with Debian's /usr/bin/python3): {e}")
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    raw = None
    if a.input:
        try:
            raw = numpy.fromfile(a.input, dtype="<f4")
        except OSError as e:
            fail(f"--input {a.input}: {e.strerror}")
        if raw.size == 0:
            fail(f"--input {a.input}: no float32 data")

    out = {"tool": "torch_bench", "torch_version": torch.__version__, "numpy_version": numpy.__version__,
           "threads": a.threads,
           "protocol": {"warmup": a.warmup, "runs": a.runs, "batch_runs": a.batch_runs, "rounds": a.rounds,
                        "batches": a.batches, "threads": a.threads, "inter_op_threads": 1,
                        "omp_wait_policy": os.environ["OMP_WAIT_POLICY"],
                        "timer": "time.perf_counter_ns around module(x) under torch.inference_mode()",
                        "percentile": "linear interpolation between closest ranks (type 7)"},
           "input": {"source": "file", "path": a.input} if a.input else {"source": "random", "seed": a.seed},
           "models": [], "script_vs_eager_max_abs": None}
    eval_data = None  # read on first use, after the first model's timing and peak RSS
    for path in a.models:
        entries, timed = {}, {}
        try:
            t0 = time.perf_counter()
            arch, module, sample_shape = build_module(torch, onnx, numpy_helper, path)
            build_ms = (time.perf_counter() - t0) * 1e3
            elems = sample_shape[0] * sample_shape[1] * sample_shape[2]
            if raw is not None:
                if raw.size % elems:
                    raise Skip(f"--input holds {raw.size} floats, not a multiple of one sample ({elems})")
                source = torch.from_numpy(raw.reshape(-1, elems).copy())
            else:
                source = torch.from_numpy(numpy.random.default_rng(a.seed).random((1, elems), dtype=numpy.float32))
            if a.dump_logits:
                with torch.inference_mode():
                    module(source.reshape([-1, *sample_shape])).numpy().astype("<f4").tofile(a.dump_logits)
            for mode in modes:
                t0 = time.perf_counter()
                fn, noop = module, torch.nn.Identity().eval()
                if mode == "torchscript":
                    with torch.inference_mode():
                        example = batch_of(torch, source, sample_shape, 1)
                        fn = torch.jit.freeze(torch.jit.trace(module, example).eval())
                        noop = torch.jit.freeze(torch.jit.script(noop).eval())
                        x = batch_of(torch, source, sample_shape, source.shape[0])
                        out["script_vs_eager_max_abs"] = max(out["script_vs_eager_max_abs"] or 0.0,
                                                             float((fn(x) - module(x)).abs().max()))
                session_ms = build_ms + (time.perf_counter() - t0) * 1e3
                batches = []
                for b in a.batches:
                    runs = a.batch_runs if b > 1 else a.runs
                    batches.append(measure(torch, fn, batch_of(torch, source, sample_shape, b), b, a.warmup, runs,
                                           a.rounds))
                noop_fig = measure(torch, noop, batch_of(torch, source, sample_shape, 1), 1, a.warmup, a.runs, a.rounds)
                entries[mode] = {"path": path, "engine": "pytorch-eager" if mode == "eager" else "torchscript",
                                 "status": "ok", "arch": arch, "session_ms": session_ms,
                                 "peak_rss_bytes": peak_rss_bytes(), "batches": batches, "noop": noop_fig}
                timed[mode] = fn
            for mode, fn in timed.items() if a.eval_input else ():  # after every mode's peak RSS
                eval_data = eval_data or read_eval_set(numpy, a)
                try:
                    entries[mode]["eval"] = evaluate(torch, fn, sample_shape, eval_data, a.eval_batch, a.eval_limit)
                except Exception as e:  # the latency figures stand; the evaluation says why it did not
                    entries[mode]["eval"] = {"status": skip_status(e)}
        except Exception as e:  # Skip, a broken file or a torch error: a skipped row with the reason
            for mode in modes:
                entries.setdefault(mode, {"path": path, "engine": "pytorch-eager" if mode == "eager" else "torchscript",
                                          "status": skip_status(e)})
        out["models"] += [entries[m] for m in modes]
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
