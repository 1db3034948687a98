// edgeq's browser app: an image (drawn, uploaded or from the webcam) -> the model's preprocessing -> one of
// four backends -> top-k labels, with the backend that actually ran, why any fallback happened, the
// model version in use and a p50 latency per backend. window.edgeqApp.state mirrors what the page shows
// (the Chromium tests read it).
import { calibrationZip } from './calibration';
import { ensureModel, fetchManifest, slotOf, type DeliveryEvent, type Manifest, type ManifestEntry } from './delivery';
import { createEdgeqEngine, createOrtEngine, edgeqVersion, type Engine, type Fallback } from './engines';
import { scaledCanvas, softmax, toModelInput, type ModelInput, type Preprocessing } from './preprocess';
import { addSample, allSamples, clearSamples } from './store';

type OptionId = 'edgeq-int8' | 'edgeq-fp32' | 'ort-webgpu' | 'ort-wasm';
interface BackendOption { label: string; engine: 'edgeq' | 'ort'; precision: 'int8' | 'fp32'; webgpu: boolean }
const OPTIONS: Record<OptionId, BackendOption> = {
  'edgeq-int8': { label: 'edgeq wasm int8', engine: 'edgeq', precision: 'int8', webgpu: false },
  'edgeq-fp32': { label: 'edgeq wasm fp32', engine: 'edgeq', precision: 'fp32', webgpu: false },
  'ort-webgpu': { label: 'onnxruntime-web WebGPU', engine: 'ort', precision: 'fp32', webgpu: true },
  'ort-wasm': { label: 'onnxruntime-web WASM', engine: 'ort', precision: 'fp32', webgpu: false },
};
const LATENCY_WINDOW = 50; // p50 over the last N runs of each backend
const TOP_K = 5;

interface Prediction {
  source: string;
  backend: string;
  detail: string;
  precision: string;
  modelVersion: string;
  top: { index: number; label: string; probability: number }[];
  logits: number[];
  input: number[];
  shape: number[];
  latencyMs: number;
}

const state = {
  ready: false,
  error: null as string | null,
  selected: 'edgeq-int8' as OptionId,
  active: null as null | { backend: string; detail: string; precision: string; name: string; version: string; sha256: string },
  fallbacks: [] as Fallback[],
  manifest: null as null | { ok: boolean; reason: string | null },
  delivery: [] as DeliveryEvent[],
  prediction: null as Prediction | null,
  predictions: 0,
  latency: {} as Record<string, { p50Ms: number; runs: number }>,
  timing: { modelReadyMs: null as number | null, firstPredictionMs: null as number | null },
  serviceWorker: 'none' as string,
  calibration: { samples: 0, lastExportBytes: 0 },
  crossOriginIsolated: self.crossOriginIsolated === true,
  edgeqVersion: null as string | null,
};

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0];

let manifest: Manifest | null = null;
let engine: Engine | null = null;
let labels: string[] = [];
let preprocessing: Preprocessing | null = null;
let lastInput: (ModelInput & { source: string }) | null = null;
// What is on the pad, so that a backend switch can answer the same image again.
let currentSource: { image: CanvasImageSource; width: number; height: number; kind: string } | null = null;
const latencySamples: Record<string, number[]> = {};
let activation: Promise<void> = Promise.resolve();

function render(): void {
  const a = state.active;
  $('status').textContent = a ? `running on ${a.backend} (${a.detail}), ${a.precision} model` : state.error ?? 'loading…';
  $('model').textContent = a ? `${a.name} ${a.version} (${a.precision}, sha256 ${a.sha256.slice(0, 12)}…)` : '–';
  $('fallbacks').replaceChildren(...state.fallbacks.map((f) => {
    const li = document.createElement('li');
    li.textContent = `${f.from} → ${f.to}: ${f.reason}`;
    return li;
  }));
  const p = state.prediction;
  $('results').replaceChildren(...(p ? p.top : []).map((t) => {
    const li = document.createElement('li');
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${Math.round(t.probability * 100)}%`;
    li.append(`${t.label} ${(t.probability * 100).toFixed(1)} %`, bar);
    return li;
  }));
  $('latency').replaceChildren(...Object.entries(state.latency).map(([k, v]) => {
    const tr = document.createElement('tr');
    for (const text of [k, `${v.p50Ms.toFixed(3)} ms`, String(v.runs)]) tr.append(Object.assign(document.createElement('td'), { textContent: text }));
    return tr;
  }));
  $('log').textContent = state.delivery.map((e) => JSON.stringify(e)).join('\n');
  $('calib-count').textContent = String(state.calibration.samples);
  const first = state.timing.firstPredictionMs;
  $('timing').textContent = first === null ? '' : `first answer ${first.toFixed(0)} ms after the page started loading`;
  $('offline').textContent = state.manifest && !state.manifest.ok ? `offline: ${state.manifest.reason}` : '';
}

function report(e: DeliveryEvent): void {
  state.delivery.push(e);
  render();
}

async function loadManifest(): Promise<void> {
  try {
    manifest = await fetchManifest(new URL('models.json', document.baseURI).href);
    state.manifest = { ok: true, reason: null };
  } catch (e) {
    manifest = null; // offline or broken: serve what IndexedDB holds
    state.manifest = { ok: false, reason: `models.json unavailable (${errorText(e)}); serving the installed models` };
  }
}

function entryFor(precision: string): ManifestEntry | null {
  return manifest?.models.find((m) => m.precision === precision) ?? null;
}

function preprocessingOf(e: Engine, entry: ManifestEntry | null): Preprocessing {
  const p = e.preprocessing ?? entry?.preprocessing;
  if (!p || !p.channels || !p.height || !p.width) throw new Error('the model has no preprocessing metadata (channels, height, width)');
  return { channels: p.channels, height: p.height, width: p.width, mean: p.mean ?? [0], std: p.std ?? [1] };
}

// One test input through a freshly loaded engine: it must answer with one finite score per label.
async function selfTest(e: Engine, entry: ManifestEntry | null): Promise<void> {
  const p = preprocessingOf(e, entry);
  const shape = [1, p.channels, p.height, p.width];
  const { data } = await e.run(new Float32Array(p.channels * p.height * p.width), shape);
  const classes = (e.labels ?? entry?.labels ?? []).length;
  if (classes && data.length !== classes) throw new Error(`answered ${data.length} scores for ${classes} labels`);
  if (!data.every(Number.isFinite)) throw new Error('answered non-finite scores');
}

async function makeEngine(option: BackendOption, bytes: Uint8Array, entry: ManifestEntry | null, fallbacks: Fallback[]): Promise<Engine> {
  if (option.engine === 'ort') return createOrtEngine(bytes, option.webgpu, fallbacks, (e) => selfTest(e, entry));
  const e = await createEdgeqEngine(bytes, fallbacks);
  try {
    await selfTest(e, entry);
  } catch (err) {
    e.dispose();
    throw err;
  }
  return e;
}

// The selected backend with its model: int8 first where the option asks for it, fp32 when the int8 model
// cannot be installed, loaded or run. Fallbacks are collected into state.fallbacks with their reasons.
async function activate(id: OptionId): Promise<void> {
  const option = OPTIONS[id];
  state.selected = id;
  state.active = null;
  state.error = null;
  engine?.dispose();
  engine = null;
  const fallbacks: Fallback[] = [];
  state.fallbacks = fallbacks;
  render();
  const precisions = option.precision === 'int8' ? ['int8', 'fp32'] : ['fp32'];
  for (const [k, precision] of precisions.entries()) {
    const entry = entryFor(precision);
    const slot = entry ? slotOf(entry) : `${manifest?.models[0]?.name ?? localStorage.getItem('edgeq.model-name') ?? 'model'}:${precision}`;
    try {
      let made = null as Engine | null;
      const model = await ensureModel(entry, slot, document.baseURI, async (bytes) => {
        made = await makeEngine(option, bytes, entry, fallbacks);
      }, report, state.manifest?.ok ? null : state.manifest?.reason ?? null);
      if (entry) localStorage.setItem('edgeq.model-name', entry.name);
      // A cache hit, or the installed version kept after a rejected update: load it now.
      const serving = made && model.sha256 === entry?.sha256 ? made : await makeEngine(option, model.bytes, entry, fallbacks);
      engine = serving;
      const p = preprocessingOf(serving, entry);
      preprocessing = p;
      labels = serving.labels ?? entry?.labels ?? Array.from({ length: 1000 }, (_, i) => `class ${i}`);
      state.active = { backend: serving.backend, detail: serving.detail, precision, name: model.name, version: model.version, sha256: model.sha256 };
      state.timing.modelReadyMs ??= performance.now();
      fillCalibrationLabels();
      render();
      return;
    } catch (e) {
      const next = precisions[k + 1];
      if (next) {
        fallbacks.push({ from: `${precision} model`, to: `${next} model`, reason: errorText(e) });
      } else {
        state.error = `no model could run: ${errorText(e)}`;
        render();
        throw e;
      }
    }
  }
}

function fillCalibrationLabels(): void {
  const select = $<HTMLSelectElement>('calib-label');
  if (select.options.length === labels.length) return;
  select.replaceChildren(...labels.map((l, i) => Object.assign(document.createElement('option'), { value: String(i), textContent: l })));
}

async function predict(): Promise<void> {
  await activation;
  if (!engine || !preprocessing || !currentSource) return;
  const { image, width, height, kind } = currentSource;
  const scaled = scaledCanvas(image, width, height, preprocessing);
  const input = toModelInput(scaled, preprocessing);
  const preview = $<HTMLCanvasElement>('input-preview');
  preview.width = preprocessing.width;
  preview.height = preprocessing.height;
  preview.getContext('2d')!.drawImage(scaled, 0, 0);
  const t0 = performance.now();
  const { data, outputName } = await engine.run(input.tensor, input.shape);
  const latencyMs = performance.now() - t0;
  const probabilities = /prob/i.test(outputName) ? Float64Array.from(data) : softmax(data);
  const order = Array.from(probabilities.keys()).sort((a, b) => probabilities[b] - probabilities[a]);
  const a = state.active!;
  const key = `${a.backend} ${a.precision}`;
  const samples = (latencySamples[key] ??= []);
  samples.push(latencyMs);
  if (samples.length > LATENCY_WINDOW) samples.shift();
  const sorted = [...samples].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  state.latency[key] = { p50Ms: sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2, runs: sorted.length };
  lastInput = { ...input, source: kind };
  state.prediction = {
    source: kind, backend: a.backend, detail: a.detail, precision: a.precision, modelVersion: a.version,
    top: order.slice(0, TOP_K).map((i) => ({ index: i, label: labels[i] ?? `class ${i}`, probability: probabilities[i] })),
    logits: Array.from(data), input: Array.from(input.tensor), shape: input.shape, latencyMs,
  };
  state.predictions += 1;
  state.timing.firstPredictionMs ??= performance.now();
  render();
}

// --- sources: the drawing pad, an uploaded file, the webcam ----------------------------------------
const pad = (): HTMLCanvasElement => $<HTMLCanvasElement>('pad');

function clearPad(): void {
  const ctx = pad().getContext('2d')!;
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, pad().width, pad().height);
}

function showOnPad(image: CanvasImageSource, width: number, height: number, kind: string): void {
  const ctx = pad().getContext('2d')!;
  clearPad();
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(image, 0, 0, width, height, 0, 0, pad().width, pad().height);
  // The model sees the original image (scaled once), not the enlarged copy on the pad.
  currentSource = { image, width, height, kind };
}

function setUpDrawing(): void {
  const canvas = pad();
  const ctx = canvas.getContext('2d')!;
  let drawing = false;
  let throttle = 0;
  const at = (e: PointerEvent): [number, number] => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
  };
  canvas.addEventListener('pointerdown', (e) => {
    if (currentSource?.kind !== 'draw') clearPad();
    currentSource = { image: canvas, width: canvas.width, height: canvas.height, kind: 'draw' };
    drawing = true;
    canvas.setPointerCapture(e.pointerId);
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = canvas.width / 12;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(...at(e));
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!drawing) return;
    ctx.lineTo(...at(e));
    ctx.stroke();
    const now = performance.now();
    if (now - throttle > 100) {
      throttle = now;
      void predict();
    }
  });
  const end = (): void => {
    if (!drawing) return;
    drawing = false;
    void predict();
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
}

async function imageFrom(blob: Blob): Promise<ImageBitmap> {
  // No colour-space conversion: a gray PNG reaches the model with its own values.
  return createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
}

let camera: { stream: MediaStream; timer: number } | null = null;

async function toggleCamera(): Promise<void> {
  const video = $<HTMLVideoElement>('video');
  if (camera) {
    clearInterval(camera.timer);
    camera.stream.getTracks().forEach((t) => t.stop());
    camera = null;
    $('camera').textContent = 'Webcam';
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } });
    video.srcObject = stream;
    await video.play();
    const frame = (): void => {
      const side = Math.min(video.videoWidth, video.videoHeight);
      if (!side) return;
      const square = document.createElement('canvas');
      square.width = square.height = side;
      square.getContext('2d')!.drawImage(video, (video.videoWidth - side) / 2, (video.videoHeight - side) / 2, side, side, 0, 0, side, side);
      showOnPad(square, side, side, 'camera');
      void predict();
    };
    camera = { stream, timer: window.setInterval(frame, 250) };
    $('camera').textContent = 'Stop webcam';
  } catch (e) {
    state.error = `webcam: ${errorText(e)}`;
    render();
  }
}

// --- calibration samples ---------------------------------------------------------------------------
async function recordSample(): Promise<void> {
  if (!lastInput || !preprocessing || !state.active) return;
  const labelIndex = Number($<HTMLSelectElement>('calib-label').value);
  await addSample({
    labelIndex, label: labels[labelIndex], source: lastInput.source, channels: preprocessing.channels,
    height: preprocessing.height, width: preprocessing.width, pixels: lastInput.pixels, tensor: lastInput.tensor,
    shape: lastInput.shape, model: `${state.active.name}@${state.active.version} (${state.active.precision})`, recordedAt: Date.now(),
  });
  state.calibration.samples = (await allSamples()).length;
  render();
}

async function exportSamples(): Promise<void> {
  const zip = await calibrationZip(await allSamples());
  state.calibration.lastExportBytes = zip.length;
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([zip as BlobPart], { type: 'application/zip' }));
  link.download = `edgeq-calibration-${new Date().toISOString().slice(0, 10)}.zip`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  render();
}

// --- start -----------------------------------------------------------------------------------------
function select(id: OptionId): Promise<void> {
  $<HTMLSelectElement>('backend').value = id;
  activation = activation.catch(() => undefined).then(() => activate(id));
  return activation.then(() => predict());
}

async function registerServiceWorker(): Promise<void> {
  if (!('serviceWorker' in navigator)) return;
  const update = (): void => {
    state.serviceWorker = navigator.serviceWorker.controller ? 'controlling' : 'installing';
  };
  navigator.serviceWorker.addEventListener('controllerchange', update);
  try {
    await navigator.serviceWorker.register('sw.js');
    update();
  } catch (e) {
    state.serviceWorker = `failed: ${errorText(e)}`;
  }
}

async function main(): Promise<void> {
  const backend = $<HTMLSelectElement>('backend');
  backend.replaceChildren(...Object.entries(OPTIONS).map(([id, o]) => Object.assign(document.createElement('option'), { value: id, textContent: o.label })));
  const wanted = new URLSearchParams(location.search).get('backend');
  if (wanted && wanted in OPTIONS) state.selected = wanted as OptionId;
  backend.value = state.selected;
  backend.addEventListener('change', () => void select(backend.value as OptionId));
  clearPad();
  setUpDrawing();
  $('clear').addEventListener('click', () => {
    clearPad();
    currentSource = null;
  });
  $<HTMLInputElement>('upload').addEventListener('change', async (ev) => {
    const input = ev.target as HTMLInputElement;
    const file = input.files?.[0];
    input.value = ''; // choosing the same file again must fire 'change' again
    if (!file) return;
    const image = await imageFrom(file);
    showOnPad(image, image.width, image.height, 'upload');
    await predict();
  });
  $('camera').addEventListener('click', () => void toggleCamera());
  $('record').addEventListener('click', () => void recordSample());
  $('export').addEventListener('click', () => void exportSamples());
  $('calib-clear').addEventListener('click', async () => {
    await clearSamples();
    state.calibration.samples = 0;
    render();
  });
  $('bench').addEventListener('click', async () => {
    for (let i = 0; i < LATENCY_WINDOW; ++i) await predict();
  });
  void registerServiceWorker();
  state.edgeqVersion = await edgeqVersion().catch(() => null);
  state.calibration.samples = (await allSamples()).length;
  await loadManifest();
  render();
  // A sample image shipped with the app, so the first screen already shows an answer.
  const sample = await fetch('sample.png').then((r) => (r.ok ? r.blob() : null)).catch(() => null);
  if (sample) {
    const image = await imageFrom(sample);
    showOnPad(image, image.width, image.height, 'sample');
  }
  await select(state.selected).catch(() => undefined);
  state.ready = true;
  render();
}

(window as unknown as { edgeqApp: unknown }).edgeqApp = {
  state,
  select,
  predict,
};
main().catch((e) => {
  state.error = errorText(e);
  state.ready = true;
  render();
});
