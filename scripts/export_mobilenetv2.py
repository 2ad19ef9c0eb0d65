#!/usr/bin/python3
"""Exports torchvision's MobileNetV2 to ONNX for hegraph, with calibrated batch-norm statistics.

Run on a machine with Debian's python3-torch, python3-torchvision, python3-onnx,
python3-skimage and python3-pil (not needed by the build or CI, which only read the committed
files), after building hegraph (the exports are checked with `hegraph eval`):

    /usr/bin/python3 scripts/export_mobilenetv2.py --width 0.35 --size 96 \
        [--out models/mobilenetv2_035_96.onnx] [--ref-dir tests/data/mobilenetv2_035_96]
    /usr/bin/python3 scripts/export_mobilenetv2.py --reduced   # models/mobilenetv2_reduced.onnx
    /usr/bin/python3 scripts/export_mobilenetv2.py --all       # every width x size into
                                                               # data/mobilenetv2/
    /usr/bin/python3 scripts/export_mobilenetv2.py --stats MODEL.onnx ...   # figures only

Widths 0.35, 0.5, 0.75, 1.0 and input sizes 96, 128, 160, 192, 224 (any multiple of 32 works).
`--reduced` builds a reduced MobileNetV2 for quick tests: torchvision's own blocks, a 32 x 32
input, the stem convolution, three inverted residual blocks (two with a residual Add, one with
stride 2), the last 1 x 1 convolution, global average pooling and a 10-class classifier.

torchvision's pretrained weights cannot be downloaded here, so the weights are the
architecture's own initialisation (Kaiming-normal convolutions, normal(0, 0.01) classifier)
from a fixed seed, made realistic in three deterministic steps:

1. Batch-norm scales and shifts are drawn in ranges like those of a trained MobileNetV2 (the
   nsfwjs weights have gamma from 0.1 to 10 and beta from -6 to 5): before a ReLU6, gamma is
   log-uniform in [0.5, 4] and beta is gamma times a uniform number in [-0.5, 1.5], so that a
   few percent of the ReLU6 inputs exceed 6 and about a third are negative, while no channel
   is almost always zero (such a channel makes the next batch norm divide by a vanishing
   deviation, and float32 then differs from float64 by more than 1e-4); in the linear
   bottlenecks, gamma is log-uniform in [0.5, 3] and beta 0, as in the nsfwjs weights.
   (--bn-affine init keeps torchvision's gamma = 1, beta = 0.)
2. The running means and variances are calibrated: the network runs in training mode, without
   gradients, over CALIBRATION_IMAGES augmented crops of the photos scikit-image ships
   (scripts/prepare_images.py: random windows, flips, colour jitter, ImageNet normalization),
   with a cumulative average of the batch statistics, so that every layer sees activations of
   sensible ranges in evaluation mode.
3. The classifier is centred and scaled on the same crops (in evaluation mode): each row of its
   weights loses its component along the mean of the pooled features, so that every logit
   averages about 0 over the crops with a zero bias, and the weights are scaled so that the
   logits have standard deviation LOGIT_STD, as a trained classifier's spread, instead of the
   tiny logits of the normal(0, 0.01) initialisation.

The model is exported in evaluation mode with ONNX opset 13 and a symbolic batch axis named
`batch`; PyTorch folds each BatchNorm into its convolution, so the graph holds Conv (some
depthwise), Clip (ReLU6, bounds as constant inputs), Add, GlobalAveragePool, Flatten, Gemm,
and Constant / Identity nodes for the Clip bounds.

Each export is checked: a batch of real photos (scripts/prepare_images.py, torchvision
preprocessing) runs through PyTorch (float32) and through hegraph's plain float64 backend
(`hegraph eval`); the largest difference relative to the largest |logit| must stay below
REL_TOL. With --ref-dir the batch and PyTorch's logits are written there as input_0.pb and
output_0.pb. Next to the model, a JSON file records its parameters, the largest magnitudes
per layer on the calibration crops and the test batch, the verification figures, `hegraph
info`'s figures (activation elements per layer, depth between activations, ReLU6 layers), the
SHA-256 of the file and the reproducing command. On this project's machine kind, with Debian
12's torch 1.13 and onnx 1.12, the files come out byte for byte the same.
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import torch
from torch import nn
from torchvision.models.mobilenetv2 import InvertedResidual, MobileNetV2
from torchvision.ops.misc import Conv2dNormActivation

import prepare_images

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

WIDTHS = [0.35, 0.5, 0.75, 1.0]
SIZES = [96, 128, 160, 192, 224]
SEED = 20240701
CALIBRATION_IMAGES = 512
CALIBRATION_BATCH = 32
LOGIT_STD = 4.0
REL_TOL = 1e-4
REDUCED_SIZE = 32
REDUCED_CLASSES = 10


def stem(width, size):
    return f"mobilenetv2_{int(round(width * 100)):03d}_{size}"


# ---- the networks ---------------------------------------------------------------------------

class ReducedMobileNetV2(nn.Module):
    """MobileNetV2 cut down to a few blocks, from torchvision's building blocks: stem conv 3x3
    stride 2 (3 -> 8), inverted residuals (t=1, 8 -> 8, Add), (t=4, 8 -> 16, stride 2),
    (t=4, 16 -> 16, Add), last conv 1x1 (16 -> 32), global average pool, linear 32 -> 10."""

    def __init__(self, num_classes=REDUCED_CLASSES):
        super().__init__()
        self.features = nn.Sequential(
            Conv2dNormActivation(3, 8, stride=2, norm_layer=nn.BatchNorm2d,
                                 activation_layer=nn.ReLU6),
            InvertedResidual(8, 8, 1, expand_ratio=1),
            InvertedResidual(8, 16, 2, expand_ratio=4),
            InvertedResidual(16, 16, 1, expand_ratio=4),
            Conv2dNormActivation(16, 32, kernel_size=1, norm_layer=nn.BatchNorm2d,
                                 activation_layer=nn.ReLU6),
        )
        self.classifier = nn.Sequential(nn.Dropout(p=0.2), nn.Linear(32, num_classes))
        # The same initialisation as torchvision's MobileNetV2.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        return self.classifier(torch.flatten(x, 1))


def pooled_features(model, x):
    """The classifier's input: features, global average pool, flatten (both networks)."""
    h = model.features(x)
    return torch.flatten(nn.functional.adaptive_avg_pool2d(h, (1, 1)), 1)


def activation_bns(model):
    """The BatchNorm modules followed by a ReLU6 (inside Conv2dNormActivation); the others are
    the linear bottlenecks' projections."""
    return {m[1] for m in model.modules() if isinstance(m, Conv2dNormActivation)}


def randomize_bn_affine(model, seed):
    g = torch.Generator().manual_seed(seed)
    before_relu6 = activation_bns(model)
    with torch.no_grad():
        for m in model.modules():
            if not isinstance(m, nn.BatchNorm2d):
                continue
            n = m.weight.numel()
            u = torch.rand(n, generator=g, dtype=torch.float64)
            if m in before_relu6:
                gamma = torch.exp(np.log(0.5) + u * (np.log(4.0) - np.log(0.5)))
                beta = gamma * (torch.rand(n, generator=g, dtype=torch.float64) * 2.0 - 0.5)
            else:
                gamma = torch.exp(np.log(0.5) + u * (np.log(3.0) - np.log(0.5)))
                beta = torch.zeros(n, dtype=torch.float64)
            m.weight.copy_(gamma.float())
            m.bias.copy_(beta.float())


def calibration_batches(size, seed):
    rng = np.random.RandomState(seed)
    for _ in range(CALIBRATION_IMAGES // CALIBRATION_BATCH):
        yield torch.from_numpy(
            prepare_images.augmented_batch(rng, size, CALIBRATION_BATCH, "torchvision"))


def calibrate(model, size, seed):
    """Steps 2 and 3 of the module comment."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for x in calibration_batches(size, seed):
            model.features(x)
    for m in bns:
        m.momentum = 0.1
    model.eval()
    with torch.no_grad():
        feats = torch.cat([pooled_features(model, x) for x in calibration_batches(size, seed)])
        fc = model.classifier[-1]
        w = fc.weight.double()
        mean = feats.double().mean(0)
        # Each row of the weights loses its component along the mean feature vector, so that
        # every logit averages 0 with a zero bias (a bias of -w.mean would reach 60, far from
        # a trained classifier's); then the weights are scaled to the wanted spread.
        u = mean / mean.norm()
        w = w - torch.outer(w @ u, u)
        a = LOGIT_STD / float((feats.double() @ w.t()).std())
        fc.weight.copy_((a * w).float())
        fc.bias.zero_()


def build(width, size, reduced, seed, bn_affine):
    torch.manual_seed(seed)
    if reduced:
        model = ReducedMobileNetV2()
    else:
        model = MobileNetV2(width_mult=width, num_classes=1000)
    if bn_affine == "random":
        randomize_bn_affine(model, seed + 1)
    calibrate(model, size, seed + 2)
    return model.eval()


# ---- magnitudes -----------------------------------------------------------------------------

def magnitudes(model, batches):
    """Largest |value| over the batches at each layer: every BatchNorm output (the folded
    Conv's output: a ReLU6 input or a bottleneck projection), every inverted-residual block's
    output (after its Add), the pooled features and the logits."""
    names = {m: n for n, m in model.named_modules()}
    before_relu6 = activation_bns(model)
    peak, hooks = {}, []

    def hook(name):
        def f(_m, _inp, out):
            peak[name] = max(peak.get(name, 0.0), float(out.detach().abs().max()))
        return f

    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            kind = "relu6_input" if m in before_relu6 else "projection"
            hooks.append(m.register_forward_hook(hook(f"{names[m]} ({kind})")))
        elif isinstance(m, InvertedResidual) and m.use_res_connect:
            hooks.append(m.register_forward_hook(hook(f"{names[m]} (residual add)")))
    with torch.no_grad():
        for x in batches:
            pooled = pooled_features(model, x)
            peak["pooled"] = max(peak.get("pooled", 0.0), float(pooled.abs().max()))
            peak["logits"] = max(peak.get("logits", 0.0), float(model(x).abs().max()))
    for h in hooks:
        h.remove()
    relu6 = [v for k, v in peak.items() if k.endswith("(relu6_input)")]
    return {
        "max_abs_relu6_input": round(max(relu6), 3),
        "max_abs_value": round(max(peak.values()), 3),
        "max_abs_logit": round(peak["logits"], 3),
        "per_layer": {k: round(v, 3) for k, v in peak.items()},
    }


def relu6_saturation(model, batches):
    """Fraction of ReLU6 inputs above 6 and below 0 over the batches."""
    before_relu6 = activation_bns(model)
    counts = {"above6": 0, "below0": 0, "total": 0}
    hooks = []

    def f(_m, _inp, out):
        counts["above6"] += int((out > 6).sum())
        counts["below0"] += int((out < 0).sum())
        counts["total"] += out.numel()

    for m in before_relu6:
        hooks.append(m.register_forward_hook(f))
    with torch.no_grad():
        for x in batches:
            model.features(x)
    for h in hooks:
        h.remove()
    return {"above_6": round(counts["above6"] / counts["total"], 4),
            "below_0": round(counts["below0"] / counts["total"], 4)}


# ---- export and checks ----------------------------------------------------------------------

def export_onnx(model, size, path):
    dummy = torch.zeros(1, 3, size, size)
    torch.onnx.export(model, dummy, path, opset_version=13, input_names=["input"],
                      output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ops = {}
    for n in m.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    return ops


def find_hegraph(path):
    candidates = [path] if path else [os.path.join(ROOT, d, "hegraph")
                                      for d in ("build", "build-mnv2", "build-release")]
    for c in candidates:
        if c and os.access(c, os.X_OK):
            return c
    sys.exit("export_mobilenetv2: hegraph not found (build it, or pass --hegraph PATH); tried "
             + ", ".join(candidates))


def hegraph_eval(hegraph, model_path, x):
    """hegraph's plain float64 backend on x: the logits as float64."""
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, "input.pb"), os.path.join(tmp, "output.pb")
        prepare_images.save_tensor(x, "input", inp)
        subprocess.run([hegraph, "eval", model_path, "--input", inp, "--output", out],
                       check=True, stdout=subprocess.DEVNULL)
        return prepare_images.load_tensor(out).astype(np.float64)


def hegraph_info(hegraph, model_path):
    """The figures of `hegraph info --batch 1 --plain`: per node its op and output elements per
    sample, the depth of each segment between activations, the ReLU6 count."""
    text = subprocess.run([hegraph, "info", model_path, "--batch", "1", "--plain"],
                          check=True, capture_output=True, text=True).stdout
    layers = []
    for line in text.splitlines():
        m = re.match(r"\s+(\d+)\s+(\S+)\s+(\S+)\s+\[([\d, ]+)\]\s+(.*)$", line)
        if m:
            dims = [int(d) for d in m.group(4).split(",")]
            layers.append({"op": m.group(2), "name": m.group(3),
                           "elements": int(np.prod(dims[1:])) if len(dims) > 1 else 1,
                           "client": m.group(5).startswith("client")})
    section = text.split("multiplicative depth between activations:")[1].split("max depth")[0]
    depths = [int(d) for d in re.findall(r"depth (\d+)\n", section)]
    max_depth = int(re.search(r"max depth: (\d+)", text).group(1))
    params = int(re.search(r"parameters: (\d+)", text).group(1))
    input_dims = [int(d) for d in
                  re.search(r"inputs:\n\s+\S+\s+\S+\s+\[N?,? ?([\d, ]+)\]", text).group(1)
                  .split(",")]
    return {"text": text, "layers": layers, "segment_depths": depths, "max_depth": max_depth,
            "parameters": params, "input_elements": int(np.prod(input_dims))}


def live_peak(model_path):
    """Largest number of activation elements per sample alive at once when the nodes run in
    file order, each output allocated before its inputs are freed and each tensor freed after
    its last use (the graph output kept). Weights, Constant nodes and what is computed from
    them only are not activations; BatchNormalization, Identity and Dropout count as aliases
    of their input (hegraph folds or removes them)."""
    m = onnx.shape_inference.infer_shapes(onnx.load(model_path))
    g = m.graph
    elements = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        dims = [d.dim_value for d in vi.type.tensor_type.shape.dim][1:]
        elements[vi.name] = int(np.prod(dims)) if dims else 1
    consts = {t.name for t in g.initializer}
    alias, act = {}, {i.name for i in g.input if i.name not in consts}
    for n in g.node:
        if not any(i in act for i in n.input):
            consts.update(n.output)
            continue
        if n.op_type in ("BatchNormalization", "Identity", "Dropout"):
            alias[n.output[0]] = alias.get(n.input[0], n.input[0])
        act.update(n.output[:1])
    root = lambda t: alias.get(t, t)  # noqa: E731
    last = {}
    for i, n in enumerate(g.node):
        for t in n.input:
            if t in act:
                last[root(t)] = i
    for o in g.output:
        last[root(o.name)] = len(g.node)
    live = {root(i.name) for i in g.input if i.name in act}
    peak = sum(elements[t] for t in live)
    for i, n in enumerate(g.node):
        if n.output[0] not in act or n.output[0] in alias:
            continue
        live.add(n.output[0])
        peak = max(peak, sum(elements[t] for t in live))
        live = {t for t in live if last.get(t, -1) > i}
    return peak


def activation_report(info, model_path=None):
    """Ciphertext counts under batch-axis packing: one ciphertext per element of a sample."""
    layers = info["layers"]
    ops = {}
    for l in layers:
        ops[l["op"]] = ops.get(l["op"], 0) + 1
    return {
        "input_elements": info["input_elements"],
        "layers": len(layers),
        "relu6_layers": sum(1 for l in layers if l["op"] == "Relu6"),
        "client_elements": sum(l["elements"] for l in layers if l["client"]),
        "total_elements": info["input_elements"] + sum(l["elements"] for l in layers),
        "largest_layer_elements": max(l["elements"] for l in layers),
        "peak_live_elements": live_peak(model_path) if model_path else None,
        "segment_depths": info["segment_depths"],
        "max_depth": info["max_depth"],
        "ops_after_passes": ops,
        "elements_per_layer": [[l["op"], l["elements"]] for l in layers],
    }


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_json(path, meta):
    text = json.dumps(meta, indent=1)
    text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]",
                  text)
    with open(path, "w") as f:
        f.write(text + "\n")


def export_variant(args, width, size, reduced, out_path, ref_dir, command, log):
    t0 = time.time()
    model = build(width, size, reduced, args.seed, args.bn_affine)
    build_seconds = time.time() - t0
    params = sum(p.numel() for p in model.parameters())

    ops = export_onnx(model, size, out_path)
    x, lines = prepare_images.make_batch(size, args.batch, "torchvision")
    with torch.no_grad():
        y = model(torch.from_numpy(x)).numpy()
    hegraph = find_hegraph(args.hegraph)
    z = hegraph_eval(hegraph, out_path, x)
    max_err = float(np.abs(z - y).max())
    rel_err = max_err / float(np.abs(y).max())
    top1_same = bool((z.argmax(1) == y.argmax(1)).all())
    if ref_dir:
        os.makedirs(ref_dir, exist_ok=True)
        prepare_images.write_batch(os.path.join(ref_dir, "input_0.pb"), x, lines)
        prepare_images.save_tensor(y, "logits", os.path.join(ref_dir, "output_0.pb"))

    info = hegraph_info(hegraph, out_path)
    report = activation_report(info, out_path)
    calib = list(calibration_batches(size, args.seed + 2))[:4]
    mags = magnitudes(model, calib + [torch.from_numpy(x)])
    name = os.path.splitext(os.path.basename(out_path))[0]
    meta = {
        "model": os.path.basename(out_path),
        "architecture": ("reduced MobileNetV2 (torchvision blocks)" if reduced else
                         f"torchvision MobileNetV2, width multiplier {width}"),
        "input": [None, 3, size, size],
        "input_preprocessing": "pixels / 255, ImageNet mean and std (scripts/prepare_images.py "
                               "--preset torchvision)",
        "classes": REDUCED_CLASSES if reduced else 1000,
        "weights": "architecture's initialisation, seed %d; batch norm %s, calibrated on %d "
                   "augmented photo crops; classifier centred, logit std %.1f"
                   % (args.seed, "gamma/beta randomized" if args.bn_affine == "random"
                      else "gamma 1, beta 0", CALIBRATION_IMAGES, LOGIT_STD),
        "parameters": params,
        "parameters_after_folding": info["parameters"],
        "file_bytes": os.path.getsize(out_path),
        "onnx_ops": ops,
        "activations": report,
        "magnitudes": mags,
        "relu6_saturation": relu6_saturation(model, calib),
        "check": {"images": lines, "max_abs_error_vs_pytorch": float("%.3g" % max_err),
                  "relative_error": float("%.3g" % rel_err), "top1_same": top1_same,
                  "pytorch_top1": [int(v) for v in y.argmax(1)]},
        "sha256": sha256(out_path),
        "command": command,
        "software": f"torch {torch.__version__}, onnx {onnx.__version__}",
    }
    write_json(os.path.splitext(out_path)[0] + ".json", meta)
    status = "ok" if rel_err <= REL_TOL and top1_same else "FAILED"
    log(f"{name}: {params} parameters, {meta['file_bytes'] / 1e6:.2f} MB, "
        f"{report['relu6_layers']} ReLU6 layers, max depth {report['max_depth']}, "
        f"{report['total_elements']} activation elements per sample "
        f"(largest layer {report['largest_layer_elements']}), "
        f"hegraph vs PyTorch max |error| {max_err:.2e} (relative {rel_err:.2e}) {status}; "
        f"max |ReLU6 input| {mags['max_abs_relu6_input']}, max |logit| {mags['max_abs_logit']}; "
        f"{build_seconds:.0f} s")
    if status != "ok":
        sys.exit(f"export_mobilenetv2: {name}: hegraph's output differs from PyTorch's "
                 f"(relative error {rel_err:.2e} > {REL_TOL}, top-1 same: {top1_same})")
    return meta


def stats_table(paths, hegraph):
    """The activation figures of any ONNX models (--stats), as a Markdown table."""
    rows = ["| model | parameters | ReLU6 / ReLU layers | max depth | input elements | "
            "largest layer | peak live | total activation elements | client elements |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for p in paths:
        info = hegraph_info(hegraph, p)
        a = activation_report(info, p)
        n_relu = a["ops_after_passes"].get("Relu", 0)
        rows.append(f"| {os.path.basename(p)} | {info['parameters']:,} | {a['relu6_layers']} / "
                    f"{n_relu} | {a['max_depth']} | {a['input_elements']:,} | "
                    f"{a['largest_layer_elements']:,} | {a['peak_live_elements']:,} | "
                    f"{a['total_elements']:,} | {a['client_elements']:,} |")
    return "\n".join(rows)


def markdown_table(metas):
    rows = ["| model | parameters | file MB | ReLU6 layers | max depth | input elements | "
            "largest layer | peak live | total activation elements | client elements | "
            "max abs ReLU6 input | rel. error |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for m in metas:
        a = m["activations"]
        rows.append(f"| {m['model']} | {m['parameters']:,} | {m['file_bytes'] / 1e6:.1f} | "
                    f"{a['relu6_layers']} | {a['max_depth']} | {a['input_elements']:,} | "
                    f"{a['largest_layer_elements']:,} | {a['peak_live_elements']:,} | "
                    f"{a['total_elements']:,} | {a['client_elements']:,} | "
                    f"{m['magnitudes']['max_abs_relu6_input']} | "
                    f"{m['check']['relative_error']:.1e} |")
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=float, default=0.35, help="width multiplier (0.35 ... 1.0)")
    ap.add_argument("--size", type=int, default=96, help="input height and width (96 ... 224)")
    ap.add_argument("--reduced", action="store_true",
                    help="the reduced MobileNetV2 on 32 x 32 inputs")
    ap.add_argument("--all", action="store_true",
                    help="every width in %s x size in %s into --out-dir" % (WIDTHS, SIZES))
    ap.add_argument("--out", help="output .onnx (default models/<name>.onnx)")
    ap.add_argument("--out-dir", default=os.path.join(ROOT, "data", "mobilenetv2"),
                    help="output folder of --all")
    ap.add_argument("--ref-dir", help="write the test batch and PyTorch's logits here")
    ap.add_argument("--batch", type=int, default=4, help="test batch size")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--bn-affine", choices=["random", "init"], default="random")
    ap.add_argument("--hegraph", help="the hegraph binary (default: build/hegraph)")
    ap.add_argument("--stats", nargs="+", metavar="MODEL",
                    help="only print the activation figures of these ONNX models")
    args = ap.parse_args()
    if args.stats:
        print(stats_table(args.stats, find_hegraph(args.hegraph)))
        return
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    log = lambda s: print(s, flush=True)  # noqa: E731

    def command(extra):
        parts = ["/usr/bin/python3 scripts/export_mobilenetv2.py"] + extra
        if args.seed != SEED:
            parts.append(f"--seed {args.seed}")
        if args.bn_affine != "random":
            parts.append(f"--bn-affine {args.bn_affine}")
        return " ".join(parts)

    if args.all:
        os.makedirs(args.out_dir, exist_ok=True)
        metas = []
        for width in WIDTHS:
            for size in SIZES:
                name = stem(width, size)
                out = os.path.join(args.out_dir, name + ".onnx")
                ref = os.path.join(args.out_dir, name)
                metas.append(export_variant(
                    args, width, size, False, out, ref,
                    command([f"--width {width} --size {size}",
                             "--out " + os.path.relpath(out, ROOT)]), log))
        table = markdown_table(metas)
        with open(os.path.join(args.out_dir, "summary.md"), "w") as f:
            f.write(table + "\n")
        log(table)
        return
    if args.reduced:
        out = args.out or os.path.join(ROOT, "models", "mobilenetv2_reduced.onnx")
        extra = ["--reduced"]
        width, size = 1.0, REDUCED_SIZE
    else:
        if args.size % 32:
            ap.error("--size must be a multiple of 32")
        width, size = args.width, args.size
        out = args.out or os.path.join(ROOT, "models", stem(width, size) + ".onnx")
        extra = [f"--width {width} --size {size}"]
    if args.out:
        extra.append("--out " + os.path.relpath(args.out, ROOT))
    if args.ref_dir:
        extra.append("--ref-dir " + os.path.relpath(args.ref_dir, ROOT))
    if args.batch != 4:
        extra.append(f"--batch {args.batch}")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    export_variant(args, width, size, args.reduced, out, args.ref_dir, command(extra), log)


if __name__ == "__main__":
    main()
