#!/usr/bin/env bash
# Serving benchmark (issue 20): `edgeq serve` under wrk on loopback against the engine's own run() and two
# peers in the same run: seed 001's stack (FastAPI + uvicorn, the model in python3-torch, fp32) and a Node
# `http` server around onnxruntime-node (the same file). Each request is one sample: the raw float32 input
# (edgeq: a v2 infer with the binary tensor extension, JSON logits back; peers: the raw body, JSON logits).
#
# Usage: bench/serve/bench_serve.sh [--duration S] [--conns 1,8,64] [--soak S] [--batch N[,T_US]] MODEL.onnx...
#   MODEL: an edgeq classifier (cnn-s/cnn-m from `edgeq train`, fp32 or quantized); the FastAPI peer needs the
#   fp32 file and is skipped for quantized ones (torch cannot run a QDQ file), with the reason.
# Output: a Markdown table on stdout (one row per model, server and connection count): requests/s, p50 and
# p99 (wrk's), errors (non-2xx + socket errors), and for edgeq the engine's p50 (edgeq bench, same run),
# p50 - engine p50 and requests/s over the engine's 1-thread run()/s. With --soak S, edgeq's RSS before and
# after S seconds at 8 connections. With --batch N[,T], a second edgeq row set runs the same server with dynamic
# batching on (--max-batch N --batch-timeout-us T, default T 200): when batching pays is read off side by side.
# Every server runs one engine thread (--threads 1); wrk uses one thread.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
EDGEQ="${EDGEQ:-$ROOT/build/bin/edgeq}"
PEERS="$ROOT/tools/peers"
DURATION=10
CONNS=1,8,64
SOAK=0
BATCH=""
MODELS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --conns) CONNS="$2"; shift 2 ;;
    --soak) SOAK="$2"; shift 2 ;;
    --batch) BATCH="$2"; shift 2 ;;
    -*) echo "bench_serve: unknown flag $1" >&2; exit 1 ;;
    *) MODELS+=("$1"); shift ;;
  esac
done
[ ${#MODELS[@]} -gt 0 ] || { echo "bench_serve: give at least one MODEL.onnx" >&2; exit 1; }
for tool in wrk node; do command -v $tool >/dev/null || { echo "bench_serve: $tool is missing (scripts/setup)" >&2; exit 1; }; done
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() {  # PORT PATH
  for _ in $(seq 1 300); do curl -fs -o /dev/null "http://127.0.0.1:$1$2" && return 0; sleep 0.1; done
  echo "bench_serve: server on port $1 did not come up" >&2; return 1
}
# wrk: "rps p50_us p99_us errors"
run_wrk() {  # URL LUA CONNS
  local out; out="$(wrk -t1 -c"$3" -d"${DURATION}s" --latency -s "$2" "$1")"
  /usr/bin/python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
def us(v):
    n, unit = float(re.match(r"([\d.]+)", v).group(1)), re.sub(r"[\d.]", "", v)
    return n * {"us": 1, "ms": 1e3, "s": 1e6}[unit]
p50 = us(re.search(r"50%\s+(\S+)", out).group(1))
p99 = us(re.search(r"99%\s+(\S+)", out).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
errors += int(m.group(1)) if m else 0
print(f"{rps:.0f} {p50:.0f} {p99:.0f} {errors}")
PY
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

echo "| model | server | conns | req/s | p50 µs | p99 µs | errors | engine p50 µs | p50 − engine µs | req/s ÷ engine run/s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for model in "${MODELS[@]}"; do
  name="$(basename "$model" .onnx)"
  # The engine alone, same run: p50 of run() at batch 1, one thread.
  "$EDGEQ" bench "$model" --peers none --threads 1 --runs 2000 --json "$WORK/engine.json" >/dev/null 2>&1
  engine_us="$(/usr/bin/python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["rows"][0]["p50_ms"]*1000, 1))' "$WORK/engine.json")"
  # One sample of the model's input shape: [1, C, H, W] from inspect --json.
  read -r numel dims <<<"$("$EDGEQ" inspect "$model" --json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)["inputs"][0]["shape"]
d = [1] + [int(x) for x in d[1:]]
n = 1
for x in d: n *= x
print(n, ",".join(map(str, d)))')"
  /usr/bin/python3 - "$WORK" "$numel" "$dims" <<'PY'
import random, struct, sys
work, n, dims = sys.argv[1], int(sys.argv[2]), sys.argv[3]
random.seed(1)
x = struct.pack(f"<{n}f", *[random.random() for _ in range(n)])
open(f"{work}/x.f32", "wb").write(x)
hdr = ('{"inputs":[{"name":"input","datatype":"FP32","shape":[%s],"parameters":{"binary_data_size":%d}}]}' % (dims, len(x))).encode()
open(f"{work}/v2.bin", "wb").write(hdr + x)
open(f"{work}/v2.hdrlen", "w").write(str(len(hdr)))
PY
  printf 'local f = io.open("%s/v2.bin", "rb"); wrk.body = f:read("*a"); f:close()\nwrk.method = "POST"\nwrk.headers["Content-Type"] = "application/octet-stream"\nwrk.headers["Inference-Header-Content-Length"] = "%s"\n' \
    "$WORK" "$(cat "$WORK/v2.hdrlen")" > "$WORK/v2.lua"
  printf 'local f = io.open("%s/x.f32", "rb"); wrk.body = f:read("*a"); f:close()\nwrk.method = "POST"\nwrk.headers["Content-Type"] = "application/octet-stream"\n' "$WORK" > "$WORK/raw.lua"

  servers=(edgeq)
  [ -n "$BATCH" ] && servers+=(edgeq-batch)
  servers+=(ort-node fastapi)
  for server in "${servers[@]}"; do
    port="$(free_port)"
    case "$server" in
      edgeq)
        "$EDGEQ" serve --model "m=$model" --port "$port" --threads 1 --max-connections 128 --no-request-log 2>"$WORK/serve.err" &
        url="http://127.0.0.1:$port/v2/models/m/infer"; lua="$WORK/v2.lua"; health=/v2/health/ready ;;
      edgeq-batch)
        IFS=, read -r max_batch batch_us <<<"$BATCH"
        "$EDGEQ" serve --model "m=$model" --port "$port" --threads 1 --max-connections 128 --no-request-log \
          --max-batch "$max_batch" --batch-timeout-us "${batch_us:-200}" 2>"$WORK/serve.err" &
        url="http://127.0.0.1:$port/v2/models/m/infer"; lua="$WORK/v2.lua"; health=/v2/health/ready ;;
      ort-node)
        node "$PEERS/ort_http.mjs" "$model" "$port" 2>"$WORK/node.err" &
        url="http://127.0.0.1:$port/infer"; lua="$WORK/raw.lua"; health=/healthz ;;
      fastapi)
        if "$EDGEQ" inspect "$model" | grep -q "^quantized: *yes"; then
          echo "| $name | fastapi+torch | - | skipped: torch cannot run a quantized ONNX file; run the fp32 file | | | | | | |"
          continue
        fi
        /usr/bin/python3 "$PEERS/fastapi_peer.py" "$model" "$port" 2>"$WORK/fastapi.err" &
        url="http://127.0.0.1:$port/infer"; lua="$WORK/raw.lua"; health=/healthz ;;
    esac
    pid=$!
    PIDS+=("$pid")
    wait_up "$port" "$health"
    wrk -t1 -c1 -d2s -s "$lua" "$url" >/dev/null  # warm-up
    IFS=, read -ra conns <<<"$CONNS"
    for c in "${conns[@]}"; do
      read -r rps p50 p99 errors <<<"$(run_wrk "$url" "$lua" "$c")"
      if [ "${server%-batch}" = edgeq ]; then
        label="edgeq serve"; [ "$server" = edgeq-batch ] && label="edgeq serve batch ≤$max_batch, ${batch_us:-200} µs"
        over="$(/usr/bin/python3 -c "print(round($p50 - $engine_us, 1))")"
        frac="$(/usr/bin/python3 -c "print(round($rps / (1e6 / $engine_us), 2))")"
        echo "| $name | $label | $c | $rps | $p50 | $p99 | $errors | $engine_us | $over | $frac |"
      else
        echo "| $name | $server | $c | $rps | $p50 | $p99 | $errors | | | |"
      fi
    done
    if [ "$server" = edgeq ] && [ "$SOAK" -gt 0 ]; then
      before="$(rss_kb "$pid")"
      DURATION="$SOAK" run_wrk "$url" "$lua" 8 >/dev/null
      echo "| $name | edgeq serve soak ${SOAK}s @8 | RSS before $before KiB, after $(rss_kb "$pid") KiB | | | | | | | |"
    fi
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
