// Image decode worker for folder data sets (plain JavaScript, so the same file serves the
// TypeScript sources under vitest/tsx and the compiled package; resolved from the package root as
// <root>/lib/data/decode-worker.mjs).
//
// Request:  { id, file, size, channels (1|3), mode ('torchvision'|'inception'), train, scale [lo,hi],
//             ratio [lo,hi], minObjectCovered, u (uniforms in [0,1) for the crop tries, 4 per try),
//             flip, resizeSize, centralFraction, color ({options, u} or null), mean, std, normalize }
// Response: { id, data: Float32Array (channels×size×size, CHW, normalized) } or { id, error }.
//
// mode 'torchvision' — training: random-resized crop (torchvision RandomResizedCrop: up to 10
// tries of area ∈ scale, log-uniform aspect ∈ ratio, else the central crop with the aspect
// clamped), resized to size×size, then flipped when asked. Evaluation: the shorter side resized to
// resizeSize, then the central size×size square. Resizing is sharp's.
// mode 'inception' — TF-slim's inception_preprocessing, see inception.mjs: the image is decoded
// whole, then cropped, resized, flipped and colour-distorted in JavaScript with TF's semantics.
import { readFile } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';
import { centralCropBox, distortColor, resizeBilinear, sampleDistortedBox } from './inception.mjs';

sharp.concurrency(1);
sharp.cache(false);

const luts = new Map();

function lutsFor(mean, std, normalize) {
  const key = `${normalize}:${mean.join(',')}:${std.join(',')}`;
  let l = luts.get(key);
  if (l === undefined) {
    l = mean.map((m, c) => {
      const t = new Float32Array(256);
      for (let v = 0; v < 256; v++) t[v] = normalize ? (v / 255 - m) / std[c] : v / 255;
      return t;
    });
    luts.set(key, l);
  }
  return l;
}

function randomResizedBox(W, H, scale, ratio, u) {
  const area = W * H;
  const lr0 = Math.log(ratio[0]);
  const lr1 = Math.log(ratio[1]);
  for (let k = 0; k < 10; k++) {
    const target = area * (scale[0] + (scale[1] - scale[0]) * u[4 * k]);
    const aspect = Math.exp(lr0 + (lr1 - lr0) * u[4 * k + 1]);
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= W && h <= H) {
      const top = Math.floor(u[4 * k + 2] * (H - h + 1));
      const left = Math.floor(u[4 * k + 3] * (W - w + 1));
      return { left, top, width: w, height: h };
    }
  }
  const inRatio = W / H;
  let w = W;
  let h = H;
  if (inRatio < ratio[0]) h = Math.round(W / ratio[0]);
  else if (inRatio > ratio[1]) w = Math.round(H * ratio[1]);
  return { left: Math.floor((W - w) / 2), top: Math.floor((H - h) / 2), width: w, height: h };
}

// TF's rgb_to_grayscale weights (slim's use_grayscale converts after the colour distortion).
const GRAY = [0.2989, 0.587, 0.114];

async function decodeInception(t) {
  const buf = await readFile(t.file);
  const { data, info } = await sharp(buf, { failOn: 'error' }).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const W = info.width;
  const H = info.height;
  const n = info.channels;
  if (!W || !H) throw new Error('no image size in the header');
  const S = t.size;
  const box = t.train && t.u !== null
    ? sampleDistortedBox(W, H, { area: t.scale, aspect: t.ratio, minObjectCovered: t.minObjectCovered }, t.u)
    : t.train
      ? { left: 0, top: 0, width: W, height: H }
      : centralCropBox(W, H, t.centralFraction);
  const img = resizeBilinear(data, W, n, box, S, S, t.flip);
  if (t.color !== null) {
    if (n !== 3) throw new Error(`colour distortion needs an RGB image but decoded ${n} channel(s)`);
    distortColor(img, t.color.options, t.color.u);
  }
  const C = t.channels;
  const plane = S * S;
  const out = new Float32Array(C * plane);
  for (let p = 0; p < plane; p++) {
    if (C === 1) {
      const v = n === 1 ? img[p] : GRAY[0] * img[3 * p] + GRAY[1] * img[3 * p + 1] + GRAY[2] * img[3 * p + 2];
      out[p] = t.normalize ? (v - t.mean[0]) / t.std[0] : v;
    } else {
      for (let c = 0; c < C; c++) {
        const v = img[p * n + (n >= C ? c : 0)];
        out[c * plane + p] = t.normalize ? (v - t.mean[c]) / t.std[c] : v;
      }
    }
  }
  return out;
}

async function decode(t) {
  if (t.mode === 'inception') return decodeInception(t);
  const buf = await readFile(t.file);
  let img = sharp(buf, { failOn: 'error' });
  const meta = await img.metadata();
  const W = meta.width;
  const H = meta.height;
  if (!W || !H) throw new Error(`no image size in the header (format ${meta.format ?? 'unknown'})`);
  const S = t.size;
  if (t.train) {
    img = img.extract(randomResizedBox(W, H, t.scale, t.ratio, t.u)).resize(S, S, { fit: 'fill' });
  } else {
    const s = t.resizeSize / Math.min(W, H);
    const rw = Math.max(S, Math.round(W * s));
    const rh = Math.max(S, Math.round(H * s));
    img = img
      .resize(rw, rh, { fit: 'fill' })
      .extract({ left: Math.floor((rw - S) / 2), top: Math.floor((rh - S) / 2), width: S, height: S });
  }
  img = t.channels === 1 ? img.greyscale() : img.removeAlpha().toColourspace('srgb');
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  if (info.width !== S || info.height !== S) throw new Error(`decoded to ${info.width}×${info.height}, expected ${S}×${S}`);
  const n = info.channels;
  const C = t.channels;
  const l = lutsFor(t.mean, t.std, t.normalize);
  const out = new Float32Array(C * S * S);
  const plane = S * S;
  for (let c = 0; c < C; c++) {
    const lut = l[c];
    const sc = n >= C ? c : 0; // a 1-band result repeated to 3 channels
    for (let y = 0; y < S; y++) {
      const row = y * S;
      for (let x = 0; x < S; x++) {
        const sx = t.flip ? S - 1 - x : x;
        out[c * plane + row + x] = lut[data[(row + sx) * n + sc]];
      }
    }
  }
  return out;
}

parentPort.on('message', (t) => {
  decode(t).then(
    (data) => parentPort.postMessage({ id: t.id, data }, [data.buffer]),
    (err) => parentPort.postMessage({ id: t.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
