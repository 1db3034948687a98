// Per-device calibration: the user's own samples (drawn, uploaded or filmed here) with the exact input
// tensors the model saw, exported as one zip:
//   images/<NN>_<label>/<id>.png   the image before normalization: `edgeq quantize --calib folder:DIR/images`
//   tensors/<id>.npy               the normalized input, bit for bit: `edgeq quantize --calib tensors:DIR/tensors`
//   samples.json                   per sample: files, label, source, model, shape
// Class folders are numbered so that their name order (the folder dataset's label order) is the
// model's, and label characters a path cannot hold (T-shirt/top) are replaced.
import { npyFloat32 } from './npy';
import { pixelsToCanvas } from './preprocess';
import type { CalibrationSample } from './store';
import { zipStore, type ZipEntry } from './zip';

export function classFolder(labelIndex: number, label: string): string {
  const safe = label.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'class';
  return `${String(labelIndex).padStart(2, '0')}_${safe}`;
}

async function pngOf(s: CalibrationSample): Promise<Uint8Array> {
  const canvas = pixelsToCanvas(s.pixels, s.channels, s.height, s.width);
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
  if (!blob) throw new Error('the browser could not encode a PNG');
  return new Uint8Array(await blob.arrayBuffer());
}

export async function calibrationZip(samples: CalibrationSample[]): Promise<Uint8Array> {
  const entries: ZipEntry[] = [];
  const index = [];
  for (const s of samples) {
    const id = String(s.id).padStart(5, '0');
    const image = `images/${classFolder(s.labelIndex, s.label)}/${id}.png`;
    const tensor = `tensors/${id}.npy`;
    entries.push({ name: image, data: await pngOf(s) }, { name: tensor, data: npyFloat32(s.tensor, s.shape) });
    index.push({ id: s.id, image, tensor, label: s.label, label_index: s.labelIndex, source: s.source, model: s.model,
      shape: s.shape, recorded_at: new Date(s.recordedAt).toISOString() });
  }
  const readme = [
    'edgeq calibration samples recorded on one device.',
    `Unzip, then: edgeq quantize MODEL.onnx --mode static --calib folder:DIR/images --calib-samples ${samples.length} --out Q.onnx`,
    `        or: edgeq quantize MODEL.onnx --mode static --calib tensors:DIR/tensors --calib-samples ${samples.length} --out Q.onnx`,
    '(tensors/ holds the exact inputs the model saw; images/ the same samples as PNG, one folder per class.)',
    '',
  ].join('\n');
  const enc = new TextEncoder();
  entries.push({ name: 'samples.json', data: enc.encode(`${JSON.stringify({ samples: index }, null, 1)}\n`) },
    { name: 'README.txt', data: enc.encode(readme) });
  return zipStore(entries);
}
