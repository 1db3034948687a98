#!/usr/bin/python3
"""Test-fixture generator (a test oracle, never the product path): exports small CNNs with
torch.onnx.export and writes each as an ONNX backend-test directory:
  OUT/<name>/model.onnx, OUT/<name>/test_data_set_0/{input_0,output_0}.pb  (torch's own outputs).
Models: cnn-s, cnn-m, cnn-bn (the layouts of src/train/models.cpp at 28x28), cnn-qat (cnn-s after
PyTorch quantization-aware training setup, exported with its fake-quantization as QDQ), and torchvision's
ResNet-18 and MobileNetV2 at 64x64 with 10 classes. Weights and BatchNorm statistics are random
with fixed seeds; BatchNorm statistics are randomized so BN folding is really exercised.
Usage: /usr/bin/python3 make_fixtures.py OUT_DIR"""
import os
import sys

import json
import struct
import zlib

import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

FASHION_LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                  "Ankle boot"]


def cnn(arch, c=1, h=28, w=28, classes=10):
    conv = lambda i, o, bias=True: nn.Conv2d(i, o, 3, padding=1, bias=bias)
    if arch == "cnn-s":
        return nn.Sequential(conv(c, 16), nn.ReLU(), nn.MaxPool2d(2), conv(16, 32), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(32 * (h // 4) * (w // 4), 128), nn.ReLU(), nn.Linear(128, classes))
    if arch == "cnn-m":
        return nn.Sequential(conv(c, 32), nn.ReLU(), nn.MaxPool2d(2), conv(32, 64), nn.ReLU(), nn.MaxPool2d(2),
                             conv(64, 128), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(128 * (h // 8) * (w // 8), 245), nn.ReLU(), nn.Linear(245, classes))
    if arch == "cnn-bn":
        return nn.Sequential(conv(c, 32, False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                             conv(32, 64, False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
                             nn.Flatten(), nn.Linear(64 * (h // 4) * (w // 4), 128), nn.ReLU(), nn.Dropout(0.4),
                             nn.Linear(128, classes))
    raise ValueError(arch)


def randomize_bn(model, gen):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=gen) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(n, generator=gen) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)


def add_metadata(path, channels, height, width):
    # The preprocessing keys edgeq's data module reads (include/edgeq/data.h), for eval/predict tests.
    m = onnx.load(path)
    for k, v in (("labels", json.dumps(FASHION_LABELS)), ("mean", "[0.286]"), ("std", "[0.353]"),
                 ("channels", str(channels)), ("height", str(height)), ("width", str(width))):
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.save(m, path)


def export(name, model, shape, out_dir, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        randomize_bn(model, gen)
    model.eval()
    x = torch.randn(*shape, generator=gen)
    d = write_test_dir(name, model, x, out_dir)
    add_metadata(os.path.join(d, "model.onnx"), shape[1], shape[2], shape[3])


def write_test_dir(name, model, x, out_dir):
    # OUT/<name>/model.onnx and test_data_set_0 with torch's own output for x; returns the directory.
    d = os.path.join(out_dir, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    with torch.no_grad():
        y = model(x)
    torch.onnx.export(model, x, os.path.join(d, "model.onnx"), opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    for kind, t in (("input_0", x), ("output_0", y)):
        with open(os.path.join(d, "test_data_set_0", kind + ".pb"), "wb") as f:
            f.write(numpy_helper.from_array(t.numpy(), kind.split("_")[0]).SerializeToString())
    print(name, tuple(x.shape), "->", tuple(y.shape))
    return d


def export_qat(name, out_dir, seed, arch="cnn-s"):
    # The architecture (cnn-s by default) wrapped in QuantStub/DeQuantStub, QAT-prepared (u8 activations,
    # s8 per-channel symmetric weights), observers run on a few batches then frozen: torch.onnx.export writes QuantizeLinear /
    # DequantizeLinear pairs, with float biases and the ReLUs after the DequantizeLinear.
    import torch.ao.quantization as tq
    torch.manual_seed(seed)

    class Qat(nn.Module):
        def __init__(self):
            super().__init__()
            self.quant, self.body, self.dequant = tq.QuantStub(), cnn(arch), tq.DeQuantStub()

        def forward(self, x):
            return self.dequant(self.body(self.quant(x)))

    model = Qat().train()
    model.qconfig = tq.QConfig(
        activation=tq.FakeQuantize.with_args(observer=tq.MovingAverageMinMaxObserver, quant_min=0, quant_max=255),
        weight=tq.FakeQuantize.with_args(observer=tq.MovingAveragePerChannelMinMaxObserver, quant_min=-128,
                                         quant_max=127, dtype=torch.qint8, qscheme=torch.per_channel_symmetric))
    prepared = tq.prepare_qat(model)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _ in range(8):
            prepared(torch.randn(16, 1, 28, 28, generator=gen))
    prepared.eval()
    prepared.apply(tq.disable_observer)
    write_test_dir(name, prepared, torch.randn(8, 1, 28, 28, generator=gen), out_dir)


def write_png_gray(path, width, height, pixels):
    # A minimal 8-bit grayscale PNG (for `edgeq predict` tests), no imaging library needed.
    raw = b"".join(b"\x00" + bytes(pixels[r * width:(r + 1) * width]) for r in range(height))
    chunk = lambda t, b: struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    write_png_gray(os.path.join(out_dir, "sample.png"), 28, 28, [(i * 37) % 256 for i in range(28 * 28)])
    torch.manual_seed(0)
    for i, arch in enumerate(("cnn-s", "cnn-m", "cnn-bn")):
        torch.manual_seed(i)
        export(arch, cnn(arch), (4, 1, 28, 28), out_dir, 100 + i)
    export_qat("cnn-qat", out_dir, 120)
    try:
        import torchvision
    except ImportError:
        print("torchvision missing: ResNet-18 and MobileNetV2 fixtures skipped (Debian python3-torchvision)")
        return
    torch.manual_seed(10)
    export("resnet18", torchvision.models.resnet18(num_classes=10), (2, 3, 64, 64), out_dir, 110)
    torch.manual_seed(11)
    export("mobilenet_v2", torchvision.models.mobilenet_v2(num_classes=10), (2, 3, 64, 64), out_dir, 111)
    with open(os.path.join(out_dir, "DONE"), "w") as f:
        f.write("ok\n")


if __name__ == "__main__":
    main()
