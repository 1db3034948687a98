#!/usr/bin/python3
"""Instructions per multiply-accumulate of the int8 inner loops, counted from the disassembly (static:
what the compiler emitted, no timing). docs/performance.md's aarch64 table comes from this script.

  bench/arm64/inner_loops.py [OBJECT.o ...]       default: build-arm64's kernels/hwy/quantized.cpp.o
  bench/arm64/inner_loops.py --asm FILE.S LABEL   one hand-written loop, LABEL: ... b.xx LABELb (XNNPACK's .S)

In an object, an inner loop is a backward branch's range [target, branch] that holds no other backward
branch and no call, in a function of the NEON target (N_NEON::); only loops with an int8 multiply are listed. MACs per
trip, from the multiply instructions: sdot (vector, 4 lanes x 4 products) 16; smull / smull2 / smlal /
smlal2 on 4h -> 4s halves 4 each (the int16 pair path: smull + smull2 + addp = 8 products of a pair of
int16 x 8). 'x ideal' = instructions per MAC / (1/16): how far from one SDOT per 16 MACs."""
import collections
import os
import re
import subprocess
import sys

OBJDUMP = os.environ.get("OBJDUMP", "aarch64-linux-gnu-objdump")
MACS = {"sdot": 16, "udot": 16, "smull": 4, "smull2": 4, "smlal": 4, "smlal2": 4, "umull": 4, "umull2": 4,
        "umlal": 4, "umlal2": 4, "smmla": 32, "usmmla": 32, "ummla": 32, "usdot": 16}
BRANCH = re.compile(r"^(b\.\w+|b|cbn?z|tbn?z)$")


def disassemble(obj):
    out = subprocess.run([OBJDUMP, "-d", "--no-show-raw-insn", "-C", obj], capture_output=True, text=True, check=True).stdout
    functions, name = collections.OrderedDict(), None
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if m:
            name = m.group(1)
            functions[name] = []
            continue
        m = re.match(r"^\s+([0-9a-f]+):\s+(\S+)\s*(.*)$", line)
        if m and name is not None:
            functions[name].append((int(m.group(1), 16), m.group(2), m.group(3)))
    return functions


def backward_target(addr, mnemonic, operands):
    if not BRANCH.match(mnemonic):
        return None
    m = re.search(r"\b([0-9a-f]+) <", operands)
    if not m:
        return None
    target = int(m.group(1), 16)
    return target if target <= addr else None


def short_name(name):
    # "void edgeq::kernels::N_NEON::(anonymous namespace)::Q8QuadTile<4ul, ...>(...)" -> "Q8QuadTile<4ul, ...>"
    name = name.split("N_NEON::", 1)[-1].replace("(anonymous namespace)::", "")
    depth, out = 0, ""
    for ch in name:  # drop the argument list, keep template arguments
        if ch == "(" and depth == 0:
            break
        depth += ch == "<"
        depth -= ch == ">"
        out += ch
    return out if len(out) <= 90 else out[:87] + "..."


def loops(functions):
    for name, insns in functions.items():
        if "N_NEON::" not in name:
            continue
        index = {addr: i for i, (addr, _, _) in enumerate(insns)}
        ranges = []
        for i, (addr, mnemonic, operands) in enumerate(insns):
            target = backward_target(addr, mnemonic, operands)
            if target is not None and target in index:
                ranges.append((index[target], i))
        for start, end in ranges:
            if any(s > start and e < end or (s >= start and e < end) for s, e in ranges if (s, e) != (start, end)):
                continue  # holds another loop: not innermost
            body = insns[start:end + 1]
            counts = collections.Counter(m for _, m, _ in body)
            if counts.get("bl") or counts.get("blr"):
                continue  # calls out (a per-row epilogue around a trip): not an inner loop
            macs = sum(MACS.get(m, 0) * n for m, n in counts.items())
            if macs:
                yield name, body, counts, macs


def row(label, n, counts, macs):
    mults = ", ".join(f"{counts[m]} {m}" for m in MACS if counts.get(m))
    per_mac = n / macs
    return f"| {label} | {macs} | {n} | {mults} | {per_mac:.3f} | {per_mac * 16:.2f}x |"


def main(argv):
    header = "| inner loop | MACs / trip | instructions | multiplies | instructions / MAC | x ideal (1 SDOT / 16 MACs) |\n|---|---:|---:|---|---:|---:|"
    if argv[:1] == ["--asm"]:
        path, label = argv[1], argv[2]
        text = open(path).read().splitlines()
        start = next(i for i, l in enumerate(text) if l.strip() == label + ":")
        body = []
        for line in text[start + 1:]:
            code = line.split("//")[0].split("#")[0].strip()
            if not code:
                continue
            body.append(code.split()[0].lower())
            if re.match(r"^b\.\w+$|^b$|^cbn?z$", body[-1]) and code.rstrip().endswith(label + "b"):
                break
        counts = collections.Counter(body)
        macs = sum(MACS.get(m, 0) * n for m, n in counts.items())
        print(header)
        print(row(f"{os.path.basename(path)} loop {label}", len(body), counts, macs))
        print("\n" + ", ".join(f"{n} {m}" for m, n in counts.most_common()))
        return 0
    objs = argv or ["build-arm64/src/CMakeFiles/edgeq_rt_objects.dir/kernels/hwy/quantized.cpp.o"]
    print(header)
    for obj in objs:
        if not os.path.exists(obj):
            print(f"inner_loops: {obj} missing: build the aarch64 core first (make arm64)", file=sys.stderr)
            return 1
        seen = set()
        for name, body, counts, macs in loops(disassemble(obj)):
            key = (short_name(name), len(body), macs)
            if key in seen:
                continue  # the same loop in two instantiations with the same code
            seen.add(key)
            others = collections.Counter({m: n for m, n in counts.items() if m not in MACS})
            print(row(f"`{short_name(name)}` ({os.path.basename(obj)} {body[0][0]:#x})", len(body), counts, macs))
            print("|  | | | other: " + ", ".join(f"{n} {m}" for m, n in others.most_common()) + " | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
