#!/usr/bin/env bash
# compare_with_x86.sh X86_TOOL MODELS_DIR WORK_DIR SIDE RUNNER...: runs each model with the x86
# model_outputs and with the other build's, RUNNER... being the command that runs it (aarch64:
# `QEMU -cpu CPU model_outputs`, SIDE the CPU; wasm32: `node model_outputs.js`, SIDE "wasm"), then
# compares: int8 models (cnn-s-int8, cnn-m-int8) the same bits, fp32 models within 1e-5 (relative,
# absolute below 1). Each run must also report its plan's int8 kernels: every conv and gemm of an int8
# model (4 in cnn-s, 5 in cnn-m), none in fp32, so an int8 model that fell back to float (or a QDQ
# fusion lost on one side) fails here.
set -euo pipefail
x86="$1"; models="$2"; work="$3"; side_name="$4"; shift 4
runner=("$@")
if [ ! -x "$x86" ]; then
  echo "compare_with_x86: the x86 model_outputs ($x86) is missing: build the x86 core first (make rt-only)"
  exit 1
fi
mkdir -p "$work"
status=0
# name:tolerance:int8 steps
for m in cnn-s:1e-5:0 cnn-m:1e-5:0 cnn-s-int8:0:4 cnn-m-int8:0:5; do
  IFS=: read -r name tol int8_steps <<<"$m"
  if [ ! -f "$models/$name/model.onnx" ]; then echo "compare_with_x86: $models/$name missing"; exit 1; fi
  for side in x86 "$side_name"; do
    if [ "$side" = x86 ]; then
      log=$("$x86" run "$models/$name" "$work/$name.x86")
    else
      log=$("${runner[@]}" run "$models/$name" "$work/$name.$side")
    fi
    echo "$log"
    if ! grep -qx "int8 steps: $int8_steps of [0-9]*" <<<"$log"; then
      echo "FAIL: $name on $side: expected $int8_steps int8 steps"
      status=1
    fi
  done
  echo "$name ($side_name: ${runner[*]} vs x86, tolerance $tol):"
  "$x86" compare "$work/$name.x86" "$work/$name.$side_name" "$tol" || status=1
done
exit $status
