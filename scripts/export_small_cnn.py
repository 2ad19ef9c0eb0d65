#!/usr/bin/python3
"""Exports the small CNN of models/small_cnn.onnx and its reference inputs and outputs.

Run once on a machine with Debian's python3-torch and python3-onnx (not needed by the build
or CI, which only read the committed files):

    /usr/bin/python3 scripts/export_small_cnn.py [--out-dir .]

Writes models/small_cnn.onnx (opset 13, symbolic batch axis) and
tests/data/small_cnn/input_0.pb, output_0.pb: a batch of 4 inputs and PyTorch's float32
outputs, as ONNX TensorProto files (the layout of ONNX's backend tests), so that
`hegraph eval` can be checked against PyTorch without PyTorch.

The network uses the ops the encrypted backend cares about: Conv, BatchNormalization
(folded by hegraph), ReLU, MaxPool, a depthwise Conv (groups), ReLU6 (Clip 0..6), AvgPool,
Flatten, Gemm, a square activation (x * x) and a final Gemm.
"""
import argparse
import os

import onnx
import torch
from onnx import numpy_helper
from torch import nn


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, kernel_size=3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.pool1 = nn.MaxPool2d(2)
        self.dw = nn.Conv2d(4, 4, kernel_size=3, padding=1, stride=1, groups=4)
        self.act2 = nn.ReLU6()
        self.pool2 = nn.AvgPool2d(2)
        self.flat = nn.Flatten()
        self.fc1 = nn.Linear(4 * 2 * 2, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        x = self.pool1(torch.relu(self.bn1(self.conv1(x))))
        x = self.pool2(self.act2(self.dw(x)))
        x = self.fc1(self.flat(x))
        x = x * x
        return self.fc2(x)


def save_tensor(array, name, path):
    t = numpy_helper.from_array(array, name)
    with open(path, "wb") as f:
        f.write(t.SerializeToString())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", default=os.path.join(os.path.dirname(__file__), ".."))
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(20240611)

    model = SmallCNN()
    # Non-trivial BatchNorm statistics, so that folding it into the Conv is exercised.
    with torch.no_grad():
        model.bn1.running_mean.uniform_(-0.5, 0.5)
        model.bn1.running_var.uniform_(0.5, 2.0)
        model.bn1.weight.uniform_(0.5, 1.5)
        model.bn1.bias.uniform_(-0.2, 0.2)
    model.eval()

    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        y = model(x)

    model_path = os.path.join(args.out_dir, "models", "small_cnn.onnx")
    data_dir = os.path.join(args.out_dir, "tests", "data", "small_cnn")
    os.makedirs(os.path.dirname(model_path), exist_ok=True)
    os.makedirs(data_dir, exist_ok=True)
    torch.onnx.export(
        model, x, model_path, opset_version=13, input_names=["input"],
        output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
        do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    onnx.checker.check_model(onnx.load(model_path))
    save_tensor(x.numpy(), "input", os.path.join(data_dir, "input_0.pb"))
    save_tensor(y.numpy(), "output", os.path.join(data_dir, "output_0.pb"))
    ops = [n.op_type for n in onnx.load(model_path).graph.node]
    print("wrote", model_path, "ops:", " ".join(ops))


if __name__ == "__main__":
    main()
