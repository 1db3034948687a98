#!/usr/bin/python3
"""Users' architectures as ONNX backend-test directories, with onnxruntime-node's outputs as the expected
ones (a test oracle, never the product path). For issue 24's "edgeq verify passes on torchvision-style
models at opsets 11, 13 and 17, against onnxruntime-node".

  OUT/<arch>_op<N>/model.onnx                  torch.onnx.export at opset N (torch 1.13, Debian python3-torch)
  OUT/<arch>_op<N>/test_data_set_0/input_K.pb  a seeded random input per model input
  OUT/<arch>_op<N>/test_data_set_0/output_K.pb onnxruntime-node's outputs (tools/peers/ort_run.mjs)
  OUT/calib/<arch>/sNN.npy                     calibration samples for `edgeq quantize --calib tensors:`
  OUT/DONE                                     written last: the sha256 of this file

Architectures: torchvision's MobileNetV2, MobileNetV3 (small, large), ResNet-18/50, EfficientNet-B0,
SqueezeNet 1.1 and ShuffleNetV2 at 64x64 (MobileNetV2 also at 160x160), and three written here in the style of published models we
cannot download (no network): a BlazeFace-style face detector (5x5 depthwise BlazeBlocks, channel padding,
two anchor heads reshaped and concatenated), a DBNet-style text detector (FPN with nearest upsampling,
a head of ConvTranspose + Sigmoid) and a CRNN-style recognizer (conv stack, bidirectional LSTM, Linear,
LogSoftmax over a sequence). Weights are seeded random; BatchNorm statistics come from the data the model
sees (so activations keep a unit scale through the depth, as in a trained model: torchvision's default
statistics let them shrink into float denormals).
Usage: /usr/bin/python3 make_zoo.py OUT_DIR PEERS_DIR [ARCH...]"""
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

OPSETS = (11, 13, 17)


class BlazeBlock(nn.Module):
    # MediaPipe BlazeFace's block: 5x5 depthwise + 1x1, residual; stride 2 pools the shortcut and pads
    # its channels with zeros.
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.stride, self.pad = stride, cout - cin
        self.dw = nn.Conv2d(cin, cin, 5, stride, 2, groups=cin)
        self.pw = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        y = self.pw(self.dw(x))
        s = F.max_pool2d(x, 2) if self.stride == 2 else x
        if self.pad:
            s = F.pad(s, (0, 0, 0, 0, 0, self.pad))
        return F.relu(y + s)


class BlazeFaceStyle(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 24, 5, 2, 2), nn.ReLU())
        self.b16 = nn.Sequential(BlazeBlock(24, 24), BlazeBlock(24, 28), BlazeBlock(28, 32, 2), BlazeBlock(32, 36),
                                 BlazeBlock(36, 42), BlazeBlock(42, 48, 2), BlazeBlock(48, 56))
        self.b8 = nn.Sequential(BlazeBlock(56, 64, 2), BlazeBlock(64, 72), BlazeBlock(72, 80), BlazeBlock(80, 88))
        self.cls16, self.reg16 = nn.Conv2d(56, 2, 1), nn.Conv2d(56, 32, 1)
        self.cls8, self.reg8 = nn.Conv2d(88, 6, 1), nn.Conv2d(88, 96, 1)

    def forward(self, x):
        a = self.b16(self.stem(x))
        b = self.b8(a)
        n = x.shape[0]
        flat = lambda t, k: t.permute(0, 2, 3, 1).reshape(n, -1, k)
        scores = torch.cat([flat(self.cls16(a), 1), flat(self.cls8(b), 1)], 1)
        boxes = torch.cat([flat(self.reg16(a), 16), flat(self.reg8(b), 16)], 1)
        return boxes, torch.sigmoid(scores)


def conv_bn(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class DBNetStyle(nn.Module):
    # DBNet (Liao et al.): backbone at 1/4..1/32, FPN lateral 1x1 + nearest upsampling + add, the four
    # levels upsampled to 1/4 and concatenated, probability head conv -> ConvTranspose x2 -> Sigmoid.
    def __init__(self):
        super().__init__()
        self.c2 = nn.Sequential(conv_bn(3, 16, 2), conv_bn(16, 24, 2))
        self.c3, self.c4, self.c5 = conv_bn(24, 32, 2), conv_bn(32, 48, 2), conv_bn(48, 64, 2)
        self.lat = nn.ModuleList(nn.Conv2d(c, 32, 1) for c in (24, 32, 48, 64))
        self.smooth = nn.ModuleList(nn.Conv2d(32, 8, 3, padding=1) for _ in range(4))
        self.head = nn.Sequential(nn.Conv2d(32, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.ConvTranspose2d(8, 8, 2, 2), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.ConvTranspose2d(8, 1, 2, 2), nn.Sigmoid())

    def forward(self, x):
        c2 = self.c2(x)
        c3 = self.c3(c2)
        c4 = self.c4(c3)
        c5 = self.c5(c4)
        p5 = self.lat[3](c5)
        p4 = self.lat[2](c4) + F.interpolate(p5, scale_factor=2, mode="nearest")
        p3 = self.lat[1](c3) + F.interpolate(p4, scale_factor=2, mode="nearest")
        p2 = self.lat[0](c2) + F.interpolate(p3, scale_factor=2, mode="nearest")
        levels = [self.smooth[i](p) for i, p in enumerate((p2, p3, p4, p5))]
        fused = torch.cat([F.interpolate(p, scale_factor=2 ** i, mode="nearest") if i else p for i, p in enumerate(levels)], 1)
        return self.head(fused)


class CRNNStyle(nn.Module):
    # CRNN (Shi et al.): conv stack collapsing the height, the width as the time axis, a bidirectional
    # LSTM, per-step class scores as log-probabilities (the CTC decoder's input).
    def __init__(self, classes=37):
        super().__init__()
        self.cnn = nn.Sequential(conv_bn(1, 16), nn.MaxPool2d(2), conv_bn(16, 32), nn.MaxPool2d(2),
                                 conv_bn(32, 48), nn.MaxPool2d((2, 1)), conv_bn(48, 64), nn.MaxPool2d((4, 1)))
        self.rnn = nn.LSTM(64, 48, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(96, classes)

    def forward(self, x):
        f = self.cnn(x).squeeze(2).permute(0, 2, 1)  # [N, W/4, 64]
        y, _ = self.rnn(f)
        return F.log_softmax(self.fc(y), dim=2)


def torchvision_models():
    import torchvision.models as tv
    return {
        "mobilenet_v2": (lambda: tv.mobilenet_v2(num_classes=10), (3, 64, 64)),
        # At 160x160 the stem's and first blocks' maps (80x80x32 and up, >= 512 KB) run depth-first.
        "mobilenet_v2_160": (lambda: tv.mobilenet_v2(num_classes=10), (3, 160, 160)),
        "mobilenet_v3_small": (lambda: tv.mobilenet_v3_small(num_classes=10), (3, 64, 64)),
        "mobilenet_v3_large": (lambda: tv.mobilenet_v3_large(num_classes=10), (3, 64, 64)),
        "resnet18": (lambda: tv.resnet18(num_classes=10), (3, 64, 64)),
        "resnet50": (lambda: tv.resnet50(num_classes=10), (3, 64, 64)),
        "efficientnet_b0": (lambda: tv.efficientnet_b0(num_classes=10), (3, 64, 64)),
        "squeezenet1_1": (lambda: tv.squeezenet1_1(num_classes=10), (3, 64, 64)),
        "shufflenet_v2": (lambda: tv.shufflenet_v2_x1_0(num_classes=10), (3, 64, 64)),
    }


def all_models():
    models = torchvision_models()
    models.update({"blazeface": (BlazeFaceStyle, (3, 128, 128)), "dbnet": (DBNetStyle, (3, 64, 64)),
                   "crnn": (CRNNStyle, (1, 32, 128))})
    return models


def data_init(model, sample_shape, gen):
    # BatchNorm statistics as the cumulative average over random inputs (momentum None), then eval mode.
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(8, *sample_shape, generator=gen))
    model.eval()


def ort_outputs(peers_dir, model_path, input_pb, out_dir):
    # onnxruntime-node's outputs, renamed to the backend-test layout (output_K.pb in graph order).
    tmp = os.path.join(out_dir, "ort")
    r = subprocess.run(["node", os.path.join(peers_dir, "ort_run.mjs"), model_path, "--input", input_pb, "--threads", "1",
                        "--out-dir", tmp, "--format", "pb"], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"ort_run failed on {model_path}: {r.stderr.strip()}")
    for k, o in enumerate(json.loads(r.stdout)["outputs"]):
        os.replace(o["file"], os.path.join(out_dir, f"output_{k}.pb"))
    os.rmdir(tmp)


def main():
    out_dir, peers_dir, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
    # The zoo is made again only when this file changed (its hash is what DONE holds).
    with open(os.path.abspath(__file__), "rb") as f:
        stamp = hashlib.sha256(f.read()).hexdigest() + "\n"
    done = os.path.join(out_dir, "DONE")
    if not wanted and os.path.isfile(done) and open(done).read() == stamp:
        print("zoo up to date in", out_dir)
        return
    if os.path.exists(done):
        os.remove(done)
    os.makedirs(out_dir, exist_ok=True)
    for seed, (name, (make, shape)) in enumerate(sorted(all_models().items())):
        if wanted and name not in wanted:
            continue
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(1000 + seed)
        model = make()
        data_init(model, shape, gen)
        x = torch.randn(1, *shape, generator=gen)
        calib = os.path.join(out_dir, "calib", name)
        os.makedirs(calib, exist_ok=True)
        for i in range(4):
            np.save(os.path.join(calib, f"s{i:02d}.npy"), torch.randn(1, *shape, generator=gen).numpy())
        n_out = 2 if name == "blazeface" else 1
        out_names = ["boxes", "scores"] if n_out == 2 else ["output"]
        dyn = {"input": {0: "batch"}}
        dyn.update({o: {0: "batch"} for o in out_names})
        for opset in OPSETS:
            d = os.path.join(out_dir, f"{name}_op{opset}")
            data = os.path.join(d, "test_data_set_0")
            os.makedirs(data, exist_ok=True)
            path = os.path.join(d, "model.onnx")
            torch.onnx.export(model, x, path, opset_version=opset, input_names=["input"], output_names=out_names,
                              dynamic_axes=dyn)
            input_pb = os.path.join(data, "input_0.pb")
            with open(input_pb, "wb") as f:
                f.write(numpy_helper.from_array(x.numpy(), "input").SerializeToString())
            ort_outputs(peers_dir, path, input_pb, data)
            print(name, "opset", opset, tuple(x.shape), flush=True)
    with open(done, "w") as f:
        f.write(stamp)


if __name__ == "__main__":
    main()
