# Test oracle (Debian's python3-torch): exports the seed study's cnn-s with torch.onnx.export and
# prints its parameter count and MACs as JSON, for the inspect test to compare against.
import json
import sys

import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(1568, 128), nn.ReLU(), nn.Linear(128, 10),
).eval()
torch.onnx.export(model, torch.zeros(1, 1, 28, 28), sys.argv[1], input_names=["input"], output_names=["logits"],
                  dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)
macs = 16 * 28 * 28 * 9 + 32 * 14 * 14 * 16 * 9 + 1568 * 128 + 128 * 10
print(json.dumps({"params": sum(p.numel() for p in model.parameters()), "macs": macs}))
