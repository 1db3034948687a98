#!/usr/bin/env bash
# cpp-httplib vs Boost.Beast, library cost alone: build/bench/serve/http_libs serves a fixed body; wrk (one
# thread) posts a 3.2 KB body at 1 and 8 connections. Prints "library conns req/s p50 p99".
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${BIN:-$ROOT/build/bench/serve/http_libs}"
DURATION="${DURATION:-10}"
LUA="$(mktemp)"
head -c 3200 /dev/zero | tr '\0' 'x' > "$LUA.body"
printf 'local f = io.open("%s", "rb"); wrk.body = f:read("*a"); f:close()\nwrk.method = "POST"\n' "$LUA.body" > "$LUA"
port=18931
for lib in httplib beast; do
  "$BIN" "$lib" "$port" & pid=$!
  for _ in $(seq 1 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
  wrk -t1 -c1 -d2s -s "$LUA" "http://127.0.0.1:$port/" >/dev/null
  for c in 1 8; do
    out="$(wrk -t1 -c$c -d${DURATION}s --latency -s "$LUA" "http://127.0.0.1:$port/")"
    echo "$lib $c $(echo "$out" | awk '/Requests\/sec/ {r=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} END {print r, p50, p99}')"
  done
  kill $pid; wait $pid 2>/dev/null || true
  port=$((port + 1))
done
rm -f "$LUA" "$LUA.body"
