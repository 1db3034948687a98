#!/bin/bash
# Issue 24's speed table: users' architectures (make_models.py), fp32 and `edgeq quantize --mode static`
# int8, edgeq against onnxruntime-node on the same files, batch 1, one thread, one `edgeq bench` run per
# model (so each ratio is measured side by side), then the slowest steps of each with `inspect --profile`.
#   bench/zoo/run.sh [OUT_DIR] [NAME...]     (default OUT_DIR: out/zoo; EDGEQ: build/bin/edgeq)
# Writes OUT_DIR/<name>.{md,json} and OUT_DIR/<name>.profile.txt, and prints one line per model.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$ROOT/out/zoo}
shift || true
EDGEQ=${EDGEQ:-$ROOT/build/bin/edgeq}
mkdir -p "$OUT"
/usr/bin/python3 "$ROOT/bench/zoo/make_models.py" "$OUT" "$@" >&2
for onnx in "$OUT"/*.onnx; do
  name=$(basename "$onnx" .onnx)
  case $name in *.int8) continue ;; esac
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  res=${name##*_}
  echo "zoo: $name: quantize (16 samples)" >&2
  "$EDGEQ" quantize "$onnx" --mode static --calib "tensors:$OUT/calib$res" --calib-samples 16 \
    --out "$OUT/$name.int8.onnx" > /dev/null
  echo "zoo: $name: bench" >&2
  "$EDGEQ" bench "$onnx" "$OUT/$name.int8.onnx" --peers ort --threads 1 --throughput-batch 0 --runs 300 --rounds 3 \
    --quiet --md "$OUT/$name.md" --json "$OUT/$name.json" > /dev/null
  for f in "$onnx" "$OUT/$name.int8.onnx"; do
    echo "== $(basename "$f")"
    "$EDGEQ" inspect "$f" --plan --profile 50 | { grep -E '^ +[0-9.]+ us' || true; } | sort -rn | awk 'NR <= 3'
  done > "$OUT/$name.profile.txt"
  /usr/bin/python3 - "$OUT/$name.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["rows"]
p50 = {(r["engine"], r["precision"]): r.get("p50_ms") for r in rows if r.get("status") == "ok"}
e32, o32 = p50.get(("edgeq", "fp32")), p50.get(("onnxruntime-node", "fp32"))
e8, o8 = p50.get(("edgeq", "int8-static")), p50.get(("onnxruntime-node", "int8-static"))
ratio = lambda a, b: f"{a / b:.2f}x" if a and b else "-"
name = sys.argv[1].rsplit("/", 1)[-1][:-5]
print(f"{name}: fp32 edgeq {e32} ms, ort {o32} ms ({ratio(e32, o32)}); int8 edgeq {e8} ms, ort {o8} ms ({ratio(e8, o8)}); "
      f"edgeq int8/fp32 {ratio(e8, e32)}")
PY
done
