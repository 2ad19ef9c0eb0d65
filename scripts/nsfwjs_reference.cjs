// Runs the original nsfwjs MobileNetV2 model with TensorFlow.js (CPU backend) on a batch of
// preprocessed images and writes its outputs, as the reference for scripts/convert_nsfwjs.py.
//
//   node scripts/nsfwjs_reference.cjs PREFIX IMAGES.f32 N SIZE OUT.json
//
// PREFIX is the npm prefix where nsfwjs is installed (PREFIX/node_modules/nsfwjs and its
// @tensorflow/tfjs). IMAGES.f32 holds N images, float32 little-endian, NHWC (N, SIZE, SIZE,
// 3), pixels already scaled to [0, 1]. The model is loaded with nsfwjs's own loader
// (nsfwjs.load("MobileNetV2")). OUT.json receives, per image, the 5 class probabilities of the
// model (its last layer is a dense layer with a softmax) and the logits (that dense layer
// without the softmax: the output of the layer before it times the layer's kernel plus its
// bias, computed with TensorFlow.js too), with the class names, and the largest |value| of
// each batch norm, add and dense layer's output over the batch (for a dense layer: before its
// activation).
"use strict";
const fs = require("fs");
const path = require("path");

async function main() {
  const [prefix, imagesPath, nArg, sizeArg, outPath] = process.argv.slice(2);
  if (!outPath) {
    console.error("usage: node nsfwjs_reference.cjs PREFIX IMAGES.f32 N SIZE OUT.json");
    process.exit(2);
  }
  const n = parseInt(nArg, 10);
  const size = parseInt(sizeArg, 10);
  const modules = path.resolve(prefix, "node_modules");
  const tf = require(path.join(modules, "@tensorflow/tfjs"));
  const nsfwjs = require(path.join(modules, "nsfwjs"));
  const classes = require(path.join(modules, "nsfwjs/dist/cjs/nsfw_classes.js")).NSFW_CLASSES;

  const bytes = fs.readFileSync(imagesPath);
  const want = n * size * size * 3 * 4;
  if (bytes.length !== want) {
    throw new Error(`${imagesPath}: ${bytes.length} bytes, expected ${want}`);
  }
  const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);

  const net = await nsfwjs.load("MobileNetV2");
  const model = net.model;
  const last = model.layers[model.layers.length - 1];
  const before = model.layers[model.layers.length - 2];
  if (last.getClassName() !== "Dense" || last.getConfig().activation !== "softmax") {
    throw new Error(`unexpected last layer ${last.name} (${last.getClassName()})`);
  }
  const features = tf.model({ inputs: model.inputs, outputs: before.output });
  const [kernel, bias] = last.getWeights();
  // The batch norms', adds' and dense layers' outputs, for the magnitudes; a dense layer's is
  // taken before its activation (its input times its kernel plus its bias), as a ReLU's input
  // in hegraph's graph.
  const watched = model.layers.filter(
      (l) => ["BatchNormalization", "Add", "Dense"].includes(l.getClassName()));
  const tensors = watched.map((l) => (l.getClassName() === "Dense" ? l.input : l.output));
  const unique = [...new Set(tensors)];
  const everything = tf.model({ inputs: model.inputs, outputs: unique });
  const maxAbs = {};

  const out = { model: "nsfwjs MobileNetV2", tfjs: tf.version.tfjs, backend: tf.getBackend(),
                classes: Object.keys(classes).sort((a, b) => a - b).map((k) => classes[k]),
                probabilities: [], logits: [], milliseconds_per_image: 0 };
  let ms = 0;
  for (let i = 0; i < n; i++) {
    const one = data.subarray(i * size * size * 3, (i + 1) * size * size * 3);
    const t0 = Date.now();
    const [p, l] = tf.tidy(() => {
      const x = tf.tensor4d(one, [1, size, size, 3]);
      return [model.predict(x), features.predict(x).matMul(kernel).add(bias)];
    });
    out.probabilities.push(Array.from(await p.data()));
    out.logits.push(Array.from(await l.data()));
    ms += Date.now() - t0;
    p.dispose();
    l.dispose();
    const peaks = tf.tidy(() => {
      const x = tf.tensor4d(one, [1, size, size, 3]);
      let outs = everything.predict(x);
      if (!Array.isArray(outs)) outs = [outs];
      return watched.map((layer, j) => {
        let t = outs[unique.indexOf(tensors[j])];
        if (layer.getClassName() === "Dense") {
          const [k, b] = layer.getWeights();
          t = t.matMul(k).add(b);
        }
        return t.abs().max();
      });
    });
    for (let j = 0; j < watched.length; j++) {
      const v = (await peaks[j].data())[0];
      peaks[j].dispose();
      maxAbs[watched[j].name] = Math.max(maxAbs[watched[j].name] || 0, v);
    }
  }
  out.max_abs = maxAbs;
  out.milliseconds_per_image = Math.round(ms / n);
  fs.writeFileSync(outPath, JSON.stringify(out));
}

main().catch((e) => {
  console.error(`nsfwjs_reference: ${e.stack || e}`);
  process.exit(1);
});
