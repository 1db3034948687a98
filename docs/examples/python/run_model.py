"""Runs an ONNX model with edgeq's Python module: load, describe, run, print each output.
Usage: python3 run_model.py MODEL.onnx [INPUT.bin]   (INPUT.bin: the first input's raw values; zeros without it)"""
import sys

import numpy as np

import edgeq

session = edgeq.Session(sys.argv[1], threads=1)
info = session.inputs[0]
shape = [1 if d is None else d for d in info.shape]  # open dims (a symbolic batch) run as 1
if len(sys.argv) > 2:
    x = np.fromfile(sys.argv[2], dtype=info.dtype).reshape(shape)
else:
    x = np.zeros(shape, info.dtype)

try:
    outputs = session.run({info.name: x})  # dict: output name -> numpy array
except edgeq.Error as e:
    sys.exit("error: %s" % e)
for name, value in outputs.items():
    values = " ".join("%.9g" % v for v in value.ravel()[:16]) if value.dtype == np.float32 else ""
    print("%s %s: %s" % (name, list(value.shape), values))
