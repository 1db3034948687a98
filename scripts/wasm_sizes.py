#!/usr/bin/python3
"""Where the bytes of a .wasm go: code size per function from a module linked with names
(emcc --profiling-funcs), grouped by a demangled-name pattern; a twiggy-like "top" for the size pass
(docs/wasm.md, "Size"). Usage: wasm_sizes.py MODULE.wasm [--top N] [--group]"""
import re
import subprocess
import sys


def leb(buf, pos):
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return result, pos


def sections(buf):
    pos = 8
    while pos < len(buf):
        sid = buf[pos]
        size, pos = leb(buf, pos + 1)
        yield sid, buf[pos:pos + size]
        pos += size


def main():
    path = sys.argv[1]
    top = int(sys.argv[sys.argv.index("--top") + 1]) if "--top" in sys.argv else 40
    buf = open(path, "rb").read()
    imported = 0
    bodies = []
    names = {}
    totals = {}
    for sid, data in sections(buf):
        totals[sid] = totals.get(sid, 0) + len(data)
        if sid == 2:  # imports: count function imports (kind 0)
            n, p = leb(data, 0)
            for _ in range(n):
                for _ in range(2):
                    ln, p = leb(data, p)
                    p += ln
                kind = data[p]
                p += 1
                if kind == 0:
                    _, p = leb(data, p)
                    imported += 1
                elif kind == 1:
                    p += 1
                    flags, p = leb(data, p)
                    _, p = leb(data, p)
                    if flags & 1:
                        _, p = leb(data, p)
                elif kind == 2:
                    flags, p = leb(data, p)
                    _, p = leb(data, p)
                    if flags & 1:
                        _, p = leb(data, p)
                elif kind == 3:
                    p += 1
                    p += 1
                elif kind == 4:
                    p += 1
                    _, p = leb(data, p)
        elif sid == 10:
            n, p = leb(data, 0)
            for _ in range(n):
                size, p2 = leb(data, p)
                bodies.append(size + (p2 - p))
                p = p2 + size
        elif sid == 0:
            ln, p = leb(data, 0)
            if data[p:p + ln] != b"name":
                continue
            p += ln
            while p < len(data):
                sub = data[p]
                size, p = leb(data, p + 1)
                if sub == 1:
                    q = p
                    n, q = leb(data, q)
                    for _ in range(n):
                        idx, q = leb(data, q)
                        ln, q = leb(data, q)
                        names[idx] = data[q:q + ln].decode("utf-8", "replace")
                        q += ln
                p += size
    fn_names = [names.get(imported + i, f"func[{imported + i}]") for i in range(len(bodies))]
    demangled = subprocess.run(["llvm-cxxfilt"], input="\n".join(fn_names), capture_output=True, text=True).stdout.split("\n")
    print(f"{path}: {len(buf)} bytes; code {totals.get(10, 0)}, data {totals.get(11, 0)}, {len(bodies)} functions")
    rows = sorted(zip(bodies, demangled), reverse=True)
    if "--group" in sys.argv:
        groups = {}
        for size, name in rows:
            key = group_of(name)
            groups[key] = groups.get(key, 0) + size
        for key, size in sorted(groups.items(), key=lambda kv: -kv[1])[:top]:
            print(f"{size:9d} {100.0 * size / len(buf):5.1f}%  {key}")
    else:
        for size, name in rows[:top]:
            print(f"{size:9d} {100.0 * size / len(buf):5.1f}%  {name[:160]}")


def group_of(name):
    m = re.search(r"edgeq::kernels::(reference|hwy|[a-z_]+)", name)
    if m:
        sub = re.search(r"edgeq::kernels::[a-z_]+::([A-Za-z_0-9]+)", name)
        return "kernels::" + m.group(1) + ("::" + sub.group(1) if sub else "")
    for pat in ("edgeq::runtime", "edgeq::onnx", "edgeq::core", "edgeq::", "hwy::", "std::", "__cxx", "emscripten", "dlmalloc"):
        if pat in name:
            return pat
    return "other: " + name[:40]


if __name__ == "__main__":
    main()
