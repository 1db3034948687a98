#!/usr/bin/python3
"""The models the aarch64 build must run like the x86 build (`make test-arm64`): cnn-s and cnn-m (fp32)
and their int8 versions cnn-s-int8 and cnn-m-int8 (each exported by PyTorch's QAT as QDQ: u8 activations,
s8 per-channel weights, which edgeq's QDQ fusion runs as int8 convs and gemms), each an ONNX backend-test
directory, from tests/runtime/make_fixtures.py's generator (a test oracle, never the product path).
Usage: /usr/bin/python3 make_models.py OUT_DIR"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runtime"))
import make_fixtures as fx  # noqa: E402
import torch  # noqa: E402


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    for i, arch in enumerate(("cnn-s", "cnn-m")):
        torch.manual_seed(i)
        fx.export(arch, fx.cnn(arch), (4, 1, 28, 28), out_dir, 100 + i)
        fx.export_qat(arch + "-int8", out_dir, 120 + i, arch)


if __name__ == "__main__":
    main()
