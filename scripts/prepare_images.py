#!/usr/bin/python3
"""Preprocesses real photos into input batches for the MobileNetV2 models (TensorProto .pb).

Run on a machine with Debian's python3-skimage, python3-pil and python3-onnx (not needed by the
build or CI, which only read the committed files):

    /usr/bin/python3 scripts/prepare_images.py --preset torchvision --size 96 --batch 4 \
        --out tests/data/mobilenetv2_035_96/input_0.pb
    /usr/bin/python3 scripts/prepare_images.py --preset nsfwjs --size 224 --batch 4 \
        --out tests/data/nsfwjs_mobilenetv2/input_0.pb
    /usr/bin/python3 scripts/prepare_images.py --list

The photos are the ones scikit-image ships (skimage.data): colour photos first (chelsea the
cat, a coffee cup, the astronaut, a rocket, a motorcycle, ...), then grey-level ones (the
cameraman, coins, a clock, ...), whose single channel is repeated three times. A batch larger
than the number of photos cycles through them again with variations: a horizontal flip, crops
off the centre, a closer zoom (a fixed list, then variations drawn from a seeded generator), so
that no two samples are equal whatever the batch size.

Preprocessing, as each model expects it:

  torchvision  ImageNet convention of torchvision's pretrained models: resize the shorter side
               to round(size / 0.875) (256 for 224) with bilinear filtering, crop the centre
               size x size, scale the pixels to [0, 1], then subtract the ImageNet mean
               (0.485, 0.456, 0.406) and divide by its standard deviation (0.229, 0.224, 0.225)
               per channel.
  nsfwjs       the nsfwjs models (Keras MobileNetV2, 224 x 224): crop the centre square, resize
               it to size x size with bilinear filtering, scale the pixels to [0, 1] (nsfwjs
               divides by 255 and stretches the whole picture to 224 x 224; the square crop
               keeps the aspect ratio instead).

The result is float32 NCHW (batch, 3, size, size), written as an ONNX TensorProto named `input`
(the layout of ONNX's backend tests; hegraph reads it with hg_onnx_tensor_read_file). Next to
it, a text file with the same stem and `.txt` lists which photo and variation each sample is.

The module is also imported by scripts/export_mobilenetv2.py and scripts/convert_nsfwjs.py for
the same batches and for augmented calibration crops.
"""
import argparse
import os
import sys

import numpy as np
from PIL import Image

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

# (name, skimage.data function): real photos only (no synthetic or binary images).
PHOTOS = [
    ("chelsea", "chelsea"),
    ("coffee", "coffee"),
    ("astronaut", "astronaut"),
    ("rocket", "rocket"),
    ("motorcycle", "stereo_motorcycle"),
    ("camera", "camera"),
    ("coins", "coins"),
    ("clock", "clock"),
    ("hubble_deep_field", "hubble_deep_field"),
    ("retina", "retina"),
    ("immunohistochemistry", "immunohistochemistry"),
    ("moon", "moon"),
    ("brick", "brick"),
    ("gravel", "gravel"),
    ("grass", "grass"),
]

# Variations used when a batch cycles through the photos again: (flip, dx, dy, zoom), where
# dx, dy move the crop window by that fraction of the free margin (-1: left/top edge, 1:
# right/bottom edge) and zoom > 1 crops a smaller window (closer view).
VARIATIONS = [
    (False, 0.0, 0.0, 1.0),
    (True, 0.0, 0.0, 1.0),
    (False, -1.0, -1.0, 1.15),
    (True, 1.0, 1.0, 1.15),
    (False, 0.0, 0.0, 1.4),
    (True, -1.0, 1.0, 1.4),
    (False, 1.0, -1.0, 1.25),
    (True, 0.0, 0.0, 1.25),
]

PRESETS = {
    # crop fraction: the crop is this fraction of the resized shorter side.
    "torchvision": {"crop_fraction": 0.875, "normalize": True},
    "nsfwjs": {"crop_fraction": 1.0, "normalize": False},
}

_cache = {}


def load_photo(name):
    """The photo as uint8 (H, W, 3)."""
    if name in _cache:
        return _cache[name]
    import skimage.data
    func = dict(PHOTOS)[name]
    img = getattr(skimage.data, func)()
    if isinstance(img, tuple):  # stereo_motorcycle: (left, right, disparity)
        img = img[0]
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = np.ascontiguousarray(img[:, :, :3]).astype(np.uint8)
    _cache[name] = img
    return img


def crop_resize(img, size, crop_fraction, flip=False, dx=0.0, dy=0.0, zoom=1.0):
    """Crops a square window and resizes it to size x size (bilinear, antialiased as PIL
    does); returns float32 (size, size, 3) in [0, 1].

    The window is crop_fraction / zoom of the shorter side, which is the same as resizing the
    shorter side to size / crop_fraction * zoom and cropping size x size, but done in one
    resampling step. dx, dy in [-1, 1] place it in the free margin (0: centred)."""
    h, w = img.shape[:2]
    side = min(h, w) * crop_fraction / zoom
    left = (w - side) / 2 * (1 + dx)
    top = (h - side) / 2 * (1 + dy)
    pil = Image.fromarray(img)
    out = pil.resize((size, size), Image.BILINEAR, box=(left, top, left + side, top + side))
    a = np.asarray(out, dtype=np.float32) / 255.0
    if flip:
        a = a[:, ::-1, :]
    return np.ascontiguousarray(a)


def to_nchw(images, normalize):
    """Stacks (size, size, 3) images in [0, 1] into float32 NCHW, normalized with the ImageNet
    mean and standard deviation when asked."""
    x = np.stack(images).astype(np.float32)
    if normalize:
        x = (x - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)).astype(np.float32)


def variation(k):
    """The k-th variation: VARIATIONS first, then ones drawn from a generator seeded with k
    (any flip, window anywhere in the margin, zoom 1 to 1.6), so that a batch of any size has
    distinct samples."""
    if k < len(VARIATIONS):
        return VARIATIONS[k]
    r = np.random.RandomState(k)
    return (bool(r.randint(2)), float(r.uniform(-1, 1)), float(r.uniform(-1, 1)),
            float(r.uniform(1.0, 1.6)))


def batch_spec(batch, photos=None):
    """The (photo, variation) of each sample of a batch: all photos once, then again with the
    next variation, and so on."""
    names = photos or [p for p, _ in PHOTOS]
    return [(names[i % len(names)], variation(i // len(names))) for i in range(batch)]


def make_batch(size, batch, preset, photos=None):
    """A preprocessed batch, float32 (batch, 3, size, size), and the description of each
    sample."""
    p = PRESETS[preset]
    images, lines = [], []
    for i, (name, (flip, dx, dy, zoom)) in enumerate(batch_spec(batch, photos)):
        images.append(crop_resize(load_photo(name), size, p["crop_fraction"], flip, dx, dy, zoom))
        lines.append(f"{i} {name} flip={int(flip)} dx={dx:+.2f} dy={dy:+.2f} zoom={zoom:.2f}")
    return to_nchw(images, p["normalize"]), lines


def augmented_batch(rng, size, batch, preset):
    """Random augmented crops of all the photos, for batch-norm calibration: random window
    (8% to 100% of the area, aspect 3/4 to 4/3), flips, brightness, contrast and saturation
    jitter. rng is a numpy RandomState; the result is float32 NCHW, preprocessed as preset."""
    p = PRESETS[preset]
    images = []
    for _ in range(batch):
        img = load_photo(PHOTOS[rng.randint(len(PHOTOS))][0])
        h, w = img.shape[:2]
        for _attempt in range(10):
            area = h * w * rng.uniform(0.08, 1.0)
            aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
            cw, ch = np.sqrt(area * aspect), np.sqrt(area / aspect)
            if cw <= w and ch <= h:
                break
        else:
            cw = ch = min(h, w)
        left, top = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
        pil = Image.fromarray(img).resize((size, size), Image.BILINEAR,
                                          box=(left, top, left + cw, top + ch))
        a = np.asarray(pil, dtype=np.float32) / 255.0
        if rng.rand() < 0.5:
            a = a[:, ::-1, :]
        grey = a.mean(axis=2, keepdims=True)
        a = a * rng.uniform(0.7, 1.3)                                   # brightness
        a = (a - a.mean()) * rng.uniform(0.7, 1.3) + a.mean()           # contrast
        a = grey + (a - grey) * rng.uniform(0.6, 1.4)                   # saturation
        images.append(np.clip(a, 0.0, 1.0))
    return to_nchw(images, p["normalize"])


def save_tensor(array, name, path):
    """Writes a numpy array as a serialized ONNX TensorProto."""
    from onnx import numpy_helper
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    t = numpy_helper.from_array(np.ascontiguousarray(array), name)
    with open(path, "wb") as f:
        f.write(t.SerializeToString())


def load_tensor(path):
    """Reads a serialized ONNX TensorProto into a numpy array."""
    import onnx
    from onnx import numpy_helper
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def write_batch(path, x, lines):
    save_tensor(x, "input", path)
    with open(os.path.splitext(path)[0] + ".txt", "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", choices=sorted(PRESETS), default="torchvision")
    ap.add_argument("--size", type=int, default=224, help="input height and width")
    ap.add_argument("--batch", type=int, default=4, help="number of samples")
    ap.add_argument("--photos", help="comma-separated photo names (default: all, in order)")
    ap.add_argument("--out", help="output .pb file")
    ap.add_argument("--list", action="store_true", help="list the photos and exit")
    args = ap.parse_args()
    if args.list:
        for name, func in PHOTOS:
            img = load_photo(name)
            print(f"{name:22s} skimage.data.{func}()  {img.shape[1]}x{img.shape[0]}")
        return
    if not args.out:
        ap.error("--out is required")
    photos = args.photos.split(",") if args.photos else None
    if photos:
        unknown = [p for p in photos if p not in dict(PHOTOS)]
        if unknown:
            sys.exit(f"prepare_images: unknown photo(s) {', '.join(unknown)}; see --list")
    x, lines = make_batch(args.size, args.batch, args.preset, photos)
    write_batch(args.out, x, lines)
    print(f"wrote {args.out}: {x.shape[0]} x {x.shape[1]} x {x.shape[2]} x {x.shape[3]} float32, "
          f"range [{x.min():.3f}, {x.max():.3f}]")


if __name__ == "__main__":
    main()
