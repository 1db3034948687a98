#!/usr/bin/env bash
# compare_with_x86.sh X86_TOOL ARM_TOOL QEMU CPU MODELS_DIR WORK_DIR: runs each model with the x86
# model_outputs and with the aarch64 one under `QEMU -cpu CPU`, then compares: int8 models (cnn-qat)
# the same bits, fp32 models within 1e-5 (relative, absolute below 1).
set -euo pipefail
x86="$1"; arm="$2"; qemu="$3"; cpu="$4"; models="$5"; work="$6"
if [ ! -x "$x86" ]; then
  echo "compare_with_x86: the x86 model_outputs ($x86) is missing: build the x86 core first (make rt-only)"
  exit 1
fi
mkdir -p "$work"
status=0
for m in cnn-s:1e-5 cnn-m:1e-5 cnn-qat:0; do
  name="${m%%:*}"; tol="${m#*:}"
  if [ ! -f "$models/$name/model.onnx" ]; then echo "compare_with_x86: $models/$name missing"; exit 1; fi
  "$x86" run "$models/$name" "$work/$name.x86"
  "$qemu" -cpu "$cpu" "$arm" run "$models/$name" "$work/$name.$cpu"
  echo "$name (qemu -cpu $cpu vs x86, tolerance $tol):"
  "$x86" compare "$work/$name.x86" "$work/$name.$cpu" "$tol" || status=1
done
exit $status
