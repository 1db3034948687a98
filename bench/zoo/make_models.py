#!/usr/bin/python3
"""The architectures of issue 24's speed table, exported for `edgeq bench` (bench/zoo/run.sh): torchvision's
MobileNetV2 (width 1.0 and 0.35) at 224 and 96, ResNet-18 at 224 and 64, EfficientNet-B0 at 224, 1000
classes, batch dim open, opset 13; seeded random weights with BatchNorm statistics from the data
(tests/models/make_zoo.py's data_init: activations at a unit scale, no float denormals). Also writes
16 calibration samples per resolution (OUT/calib<R>/sNN.npy) for `edgeq quantize --calib tensors:`.
Usage: /usr/bin/python3 make_models.py OUT_DIR [NAME...]"""
import os
import sys

import numpy as np
import torch
import torchvision.models as tv

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "models"))
from make_zoo import data_init  # noqa: E402

MODELS = {
    "mobilenet_v2_224": (lambda: tv.mobilenet_v2(), 224),
    "mobilenet_v2_96": (lambda: tv.mobilenet_v2(), 96),
    "mobilenet_v2_035_224": (lambda: tv.mobilenet_v2(width_mult=0.35), 224),
    "mobilenet_v2_035_96": (lambda: tv.mobilenet_v2(width_mult=0.35), 96),
    "resnet18_224": (lambda: tv.resnet18(), 224),
    "resnet18_64": (lambda: tv.resnet18(), 64),
    "efficientnet_b0_224": (lambda: tv.efficientnet_b0(), 224),
}


def main():
    out, wanted = sys.argv[1], sys.argv[2:]
    os.makedirs(out, exist_ok=True)
    for name, (make, r) in MODELS.items():
        if wanted and name not in wanted:
            continue
        torch.manual_seed(0)
        model = make()
        data_init(model, (3, r, r), torch.Generator().manual_seed(1))
        torch.onnx.export(model, torch.randn(1, 3, r, r), os.path.join(out, name + ".onnx"), opset_version=13,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        calib = os.path.join(out, f"calib{r}")
        os.makedirs(calib, exist_ok=True)
        rng = np.random.default_rng(r)
        for i in range(16):
            np.save(os.path.join(calib, f"s{i:02d}.npy"), rng.standard_normal((1, 3, r, r)).astype(np.float32))
        print(name, flush=True)


if __name__ == "__main__":
    main()
