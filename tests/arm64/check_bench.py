#!/usr/bin/python3
"""check_bench.py QEMU CPU EDGEQ MODELS_DIR WORK_DIR: the core-only `edgeq bench` built for aarch64, run
under `QEMU -cpu CPU` on cnn-s (fp32) and cnn-s-int8 with a handful of runs, must write the report every
`edgeq bench` writes: the terminal table, JSON and Markdown, one measured edgeq row per model (p50 <= p95
<= p99, throughput, session time, peak RSS, agreement with the fp32 model), a "skipped: <reason>" row per
peer saying why it cannot run here (the host's node and python3 are x86-64 programs), and a note naming
the kernels the CPU got (int16 pairs on cortex-a53, SDOT on max). The timings themselves are qemu's and
mean nothing: only the structure is checked, and nothing is published. Also: a missing model and the
full build's --dataset (not in the core-only verb) fail with exit 1 and one line on stderr."""
import json
import os
import shutil
import subprocess
import sys

qemu, cpu, edgeq, models, work = sys.argv[1:6]
os.makedirs(work, exist_ok=True)
failures = []


def check(condition, what):
    if not condition:
        failures.append(what)


def run(*args):
    return subprocess.run([qemu, "-cpu", cpu, edgeq, *args], capture_output=True, text=True, timeout=300)


json_path, md_path = os.path.join(work, f"bench-{cpu}.json"), os.path.join(work, f"bench-{cpu}.md")
for p in (json_path, md_path):
    if os.path.exists(p):
        os.remove(p)
fp32, int8 = os.path.join(models, "cnn-s", "model.onnx"), os.path.join(models, "cnn-s-int8", "model.onnx")
r = run("bench", fp32, int8, "--threads", "1", "--warmup", "2", "--runs", "5", "--rounds", "2", "--batch-runs", "2",
        "--throughput-batch", "8", "--json", json_path, "--md", md_path, "--quiet")
print(r.stdout)
if r.returncode != 0:
    print(r.stderr)
    sys.exit(f"FAIL: edgeq bench exited {r.returncode}")
check(r.stderr == "", f"--quiet run printed on stderr: {r.stderr!r}")
header = next((line for line in r.stdout.splitlines() if line.startswith("model ")), "")
for column in ("engine", "precision", "thr", "p50 ms", "p95 ms", "p99 ms", "b64 items/s", "agree fp32", "status"):
    check(column in header, f"terminal table without column '{column}'")

report = json.load(open(json_path))
check(report["machine"]["kernel"].endswith(" aarch64"), f"machine kernel {report['machine']['kernel']!r} is not aarch64")
check(report["protocol"]["runs"] == 5 and report["protocol"]["rounds"] == 2, f"protocol {report['protocol']}")
rows = report["rows"]
product = "int16 pairs" if cpu == "cortex-a53" else "dotprod (SDOT)"
check(any(f"Highway target NEON, int8 product {product}." in n for n in report["notes"]),
      f"no note naming NEON and {product}: {report['notes']}")
arch_reason = "is built for x86-64 and this edgeq for aarch64"
for model, precision in (("cnn-s", "fp32"), ("cnn-s-int8", "int8-static")):
    mine = [row for row in rows if row["model"] == model and row["engine"] == "edgeq"]
    check(len(mine) == 1, f"{model}: {len(mine)} edgeq rows")
    if mine:
        e = mine[0]
        check(e["status"] == "ok" and e["precision"] == precision and e["threads"] == 1, f"{model}: edgeq row {e}")
        check(0 < e["p50_ms"] <= e["p95_ms"] <= e["p99_ms"], f"{model}: percentiles {e}")
        for key in ("mean_ms", "throughput_b64_items_per_s", "session_ms", "peak_rss_bytes", "size_bytes"):
            check(isinstance(e.get(key), (int, float)) and e[key] > 0, f"{model}: edgeq {key} = {e.get(key)}")
        check(e.get("agreement_vs_fp32") is not None and 0 <= e["agreement_vs_fp32"] <= 1, f"{model}: agreement {e}")
    peers = {row["engine"]: row["status"] for row in rows if row["model"] == model and row["engine"] != "edgeq"}
    check(set(peers) == {"libtorch-eager", "pytorch-eager", "torchscript", "onnxruntime-node", "onnxruntime-web"},
          f"{model}: peer rows {sorted(peers)}")
    for engine, status in peers.items():
        check(status.startswith("skipped: "), f"{model}/{engine}: {status}")
    for engine in ("pytorch-eager", "torchscript"):
        check(peers.get(engine) == f"skipped: /usr/bin/python3 {arch_reason}", f"{model}/{engine}: {peers.get(engine)}")
    node = shutil.which("node")
    for engine in ("onnxruntime-node", "onnxruntime-web"):
        want = f"skipped: {node} {arch_reason}" if node else "skipped: node not found"
        check(peers.get(engine, "").startswith(want), f"{model}/{engine}: {peers.get(engine)} (expected {want})")
    libtorch = "edgeq-torch (LibTorch) is not built" if precision == "fp32" else "LibTorch eager runs the fp32 architecture"
    check(libtorch in peers.get("libtorch-eager", ""), f"{model}/libtorch-eager: {peers.get('libtorch-eager')}")
md = open(md_path).read()
check("\n| model | engine | precision | thr |" in md, "Markdown report without its table")
check("\n| cnn-s-int8 | edgeq | int8-static | 1 |" in md, "Markdown report without edgeq's int8 row")

for args, what in ((("bench", os.path.join(work, "missing.onnx")), "a missing model"),
                   (("bench", fp32, "--dataset", "fashion-mnist"), "--dataset")):
    bad = run(*args)
    lines = bad.stderr.strip().splitlines()
    check(bad.returncode == 1 and len(lines) == 1 and "error" in lines[0] and what.split()[-1] in lines[0],
          f"{what}: exit {bad.returncode}, stderr {bad.stderr!r}")
    print(f"{what}: exit {bad.returncode}: {bad.stderr.strip()}")

for f in failures:
    print("FAIL:", f)
print(f"check_bench ({cpu}): {'FAILED' if failures else 'ok'}")
sys.exit(1 if failures else 0)
