#!/usr/bin/env bash
# compare_with_x86.sh X86_TOOL ARM_TOOL QEMU CPU MODELS_DIR WORK_DIR: runs each model with the x86
# model_outputs and with the aarch64 one under `QEMU -cpu CPU`, then compares: int8 models (cnn-s-int8,
# cnn-m-int8) the same bits, fp32 models within 1e-5 (relative, absolute below 1). Each run must also
# report its plan's int8 kernels: every conv and gemm of an int8 model (4 in cnn-s, 5 in cnn-m), none in
# fp32, so an int8 model that fell back to float (or a QDQ fusion lost on one side) fails here.
set -euo pipefail
x86="$1"; arm="$2"; qemu="$3"; cpu="$4"; models="$5"; work="$6"
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
  for side in x86 "$cpu"; do
    if [ "$side" = x86 ]; then
      log=$("$x86" run "$models/$name" "$work/$name.x86")
    else
      log=$("$qemu" -cpu "$cpu" "$arm" run "$models/$name" "$work/$name.$cpu")
    fi
    echo "$log"
    if ! grep -qx "int8 steps: $int8_steps of [0-9]*" <<<"$log"; then
      echo "FAIL: $name on $side: expected $int8_steps int8 steps"
      status=1
    fi
  done
  echo "$name (qemu -cpu $cpu vs x86, tolerance $tol):"
  "$x86" compare "$work/$name.x86" "$work/$name.$cpu" "$tol" || status=1
done
exit $status
