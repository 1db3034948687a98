"""edgeq: int8 inference of small image classifiers, embedded in Python.

    import edgeq, numpy as np
    s = edgeq.Session("model.onnx", threads=1)
    out = s.run({"input": np.zeros((1, 1, 28, 28), np.float32)})   # dict name -> numpy array

Session.inputs / Session.outputs describe the model (name, dtype, shape; None for open dims).
Errors raise edgeq.Error (a RuntimeError) whose .code names the kind ("invalid argument", "not found", "parse error", ...).
"""
from ._edgeq import Error, IoInfo, Session, __version__

__all__ = ["Error", "IoInfo", "Session", "__version__"]
