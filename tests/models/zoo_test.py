#!/usr/bin/python3
"""Checks on users' architectures (the directories make_zoo.py writes), run by ctest (label e2e).

  zoo_test.py verify   ZOO EDGEQ   `edgeq verify` on every <arch>_op<N> directory: fp32 against onnxruntime-node,
                                   with 1 and 3 threads
  zoo_test.py quantize ZOO EDGEQ PEERS
      every architecture at opset 13 (and a few at 11 and 17) through `edgeq quantize --mode static`; the file
      must load in onnxruntime-node, and edgeq's outputs on it must match onnxruntime's (`edgeq verify` on a
      directory holding the quantized model and onnxruntime's outputs for it).
Exit 0 when every check passes; otherwise every failure is listed and the exit status is 1."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_zoo import OPSETS, all_models, ort_outputs  # noqa: E402

# fp32: the engines sum in different orders (and use different exp/tanh approximations); logits are O(1).
FP32_TOL = ["--rtol", "1e-3", "--atol", "1e-4"]
# int8: the same QDQ file gives the same integer codes in both engines; what differs is the float work
# around them (the fp32 classifier, Sigmoid, LSTM): measured max |diff| 2.3e-6 (EfficientNet-B0), most
# below 1e-6, where one quantization step of these outputs is about 1e-2.
INT8_TOL = ["--rtol", "1e-4", "--atol", "1e-5"]
# The quantizer's extra opsets: an old export (11, upgraded to 13 in the written file) and a new one.
QUANTIZE_OTHER_OPSETS = {"mobilenet_v2": (11, 17), "resnet18": (11, 17), "crnn": (11, 17)}


def verify(dirs, edgeq, tol):
    r = subprocess.run([edgeq, "verify", *tol, "--json", *dirs], capture_output=True, text=True)
    try:
        report = json.loads(r.stdout)
    except json.JSONDecodeError:
        return [f"edgeq verify crashed or printed no JSON (exit {r.returncode}): {r.stderr.strip()[-400:]}"]
    failures = []
    for t in report["results"]:
        if t["status"] != "passed":
            worst = max((o.get("max_abs_error", 0) for o in t.get("outputs", [])), default=0)
            failures.append(f"{t['dir']}: {t['status']}: {t.get('message', '')} (max abs error {worst:g})")
    if r.returncode != (1 if failures else 0):
        failures.append(f"edgeq verify exited {r.returncode} with {len(failures)} failures")
    if len(report["results"]) != len(dirs):
        failures.append(f"edgeq verify reported {len(report['tests'])} of {len(dirs)} directories")
    return failures


def expected_dirs(zoo):
    return [os.path.join(zoo, f"{name}_op{opset}") for name in sorted(all_models()) for opset in OPSETS]


def cmd_verify(zoo, edgeq):
    dirs = expected_dirs(zoo)
    missing = [d for d in dirs if not os.path.isfile(os.path.join(d, "model.onnx"))]
    failures = [f"{d}: missing (make_zoo.py did not write it)" for d in missing]
    # One thread and three (task splits inside an image: the depth-first steps' strips start mid-map).
    for threads in ("1", "3"):
        failures += [f"{f} ({threads} threads)" for f in verify([d for d in dirs if d not in missing], edgeq, FP32_TOL + ["--threads", threads])]
    print(f"zoo verify: {len(dirs)} architecture/opset directories, 1 and 3 threads, {len(failures)} failures against onnxruntime-node")
    return failures


def cmd_quantize(zoo, edgeq, peers):
    work = os.path.join(zoo, "quantized")
    shutil.rmtree(work, ignore_errors=True)
    failures, dirs = [], []
    for name in sorted(all_models()):
        for opset in (13, *QUANTIZE_OTHER_OPSETS.get(name, ())):
            src = os.path.join(zoo, f"{name}_op{opset}")
            d = os.path.join(work, f"{name}_op{opset}")
            data = os.path.join(d, "test_data_set_0")
            os.makedirs(data)
            q = os.path.join(d, "model.onnx")
            r = subprocess.run([edgeq, "quantize", os.path.join(src, "model.onnx"), "--mode", "static", "--calib",
                                "tensors:" + os.path.join(zoo, "calib", name), "--calib-samples", "4", "--out", q],
                               capture_output=True, text=True)
            if r.returncode != 0:
                failures.append(f"{name} opset {opset}: edgeq quantize failed: {r.stderr.strip()[-300:]}")
                continue
            shutil.copy(os.path.join(src, "test_data_set_0", "input_0.pb"), data)
            try:
                ort_outputs(peers, q, os.path.join(data, "input_0.pb"), data)
            except RuntimeError as e:
                failures.append(f"{name} opset {opset}: onnxruntime-node cannot run the quantized file: {e}")
                continue
            dirs.append(d)
    failures += verify(dirs, edgeq, INT8_TOL)
    print(f"zoo quantize: {len(dirs)} quantized models run by onnxruntime-node; {len(failures)} failures")
    return failures


def main():
    cmd, zoo, edgeq = sys.argv[1], sys.argv[2], sys.argv[3]
    if not os.path.isfile(os.path.join(zoo, "DONE")):
        print(f"zoo_test: {zoo} has no DONE: the zoo_models fixture did not finish", file=sys.stderr)
        return 1
    failures = cmd_verify(zoo, edgeq) if cmd == "verify" else cmd_quantize(zoo, edgeq, sys.argv[4])
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
