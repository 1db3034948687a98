// Node-side image helpers for the app's build and tests: Fashion-MNIST images out of Debian's IDX files
// and a minimal PNG encoder (8-bit gray, no gamma or colour chunks, so a browser and stb_image read the
// same values back).
import { readFileSync } from 'node:fs';
import { deflateSync, gunzipSync } from 'node:zlib';

export const FASHION_MNIST_TEST = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz';
export const FASHION_MNIST_TEST_LABELS = '/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz';

// Image `index` of an IDX3 file (gzip or not): {width, height, pixels: Uint8Array}.
export function idxImage(path, index) {
  let bytes = readFileSync(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== 0x803) throw new Error(`${path}: not an IDX3 ubyte file`);
  const [count, height, width] = [view.getUint32(4), view.getUint32(8), view.getUint32(12)];
  if (index >= count) throw new Error(`${path}: image ${index} of ${count}`);
  const start = 16 + index * width * height;
  return { width, height, pixels: Uint8Array.from(bytes.subarray(start, start + width * height)) };
}

export function idxLabel(path, index) {
  let bytes = readFileSync(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  return bytes[8 + index];
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

// 8-bit grayscale PNG of width x height pixels (row-major).
export function grayPng(width, height, pixels) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // gray
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; ++y) Buffer.from(pixels.subarray(y * width, (y + 1) * width)).copy(raw, y * (width + 1) + 1);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
