// Image -> model input, from the model's preprocessing metadata (edgeq's data module writes channels,
// height, width, mean, std): scale to height x width, convert channels as stb_image does (gray =
// (77 R + 150 G + 29 B) >> 8, so a gray image keeps its values bit for bit), then
// (pixel / 255 - mean[c]) / std[c] in CHW order, as `edgeq predict` does natively.

export interface Preprocessing { channels: number; height: number; width: number; mean: number[]; std: number[] }

export interface ModelInput {
  pixels: Uint8Array; // CHW 0..255: the image the model saw, before normalization
  tensor: Float32Array; // NCHW, batch 1
  shape: number[];
}

// Draws `source` (any canvas image) scaled to the model's size on an opaque black canvas and returns
// its RGBA pixels; the canvas is returned too, for display and PNG export.
export function scaledCanvas(source: CanvasImageSource, sw: number, sh: number, p: Preprocessing): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = p.width;
  canvas.height = p.height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, p.width, p.height);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(source, 0, 0, sw, sh, 0, 0, p.width, p.height);
  return canvas;
}

export function toModelInput(canvas: HTMLCanvasElement, p: Preprocessing): ModelInput {
  const { width: w, height: h, channels: c } = p;
  const rgba = canvas.getContext('2d', { willReadFrequently: true })!.getImageData(0, 0, w, h).data;
  const plane = w * h;
  const pixels = new Uint8Array(c * plane);
  for (let i = 0; i < plane; ++i) {
    const r = rgba[4 * i], g = rgba[4 * i + 1], b = rgba[4 * i + 2];
    if (c === 1) {
      pixels[i] = (r * 77 + g * 150 + b * 29) >> 8;
    } else {
      pixels[i] = r;
      pixels[plane + i] = g;
      pixels[2 * plane + i] = b;
    }
  }
  const tensor = new Float32Array(c * plane);
  for (let k = 0; k < c; ++k) {
    const mean = p.mean.length === 1 ? p.mean[0] : p.mean[k];
    const std = p.std.length === 1 ? p.std[0] : p.std[k];
    for (let i = 0; i < plane; ++i) tensor[k * plane + i] = (pixels[k * plane + i] / 255 - mean) / std;
  }
  return { pixels, tensor, shape: [1, c, h, w] };
}

// A gray or RGB CHW image as an RGBA canvas (calibration export writes it as PNG).
export function pixelsToCanvas(pixels: Uint8Array, channels: number, height: number, width: number): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d')!;
  const image = ctx.createImageData(width, height);
  const plane = width * height;
  for (let i = 0; i < plane; ++i) {
    const r = pixels[i];
    image.data[4 * i] = r;
    image.data[4 * i + 1] = channels === 1 ? r : pixels[plane + i];
    image.data[4 * i + 2] = channels === 1 ? r : pixels[2 * plane + i];
    image.data[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

export function softmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; ++i) sum += (out[i] = Math.exp(logits[i] - max));
  for (let i = 0; i < out.length; ++i) out[i] /= sum;
  return out;
}
