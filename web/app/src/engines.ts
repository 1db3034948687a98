// The engines behind the backend switch and the fallback chain between them:
//   onnxruntime-web: WebGPU EP -> WASM EP (threads + SIMD when the page is cross-origin isolated) -> one thread
//   edgeq: its wasm runtime (web/edgeq/edgeq.mjs): the pthread build when the page is cross-origin isolated
//          -> the one-thread build
// Each step down is recorded with its reason. Both runtimes are loaded by URL from the folder
// tools/build.mjs copies them to, at most once per page.
import type { EdgeqModule, EdgeqPreprocessing, Gpu, OrtModule, OrtSession } from './runtimes';

export type BackendId = 'edgeq-wasm' | 'ort-webgpu' | 'ort-wasm';

export interface Fallback { from: string; to: string; reason: string }

export interface Engine {
  backend: BackendId;
  detail: string; // threads, SIMD, adapter: what actually runs
  labels: string[] | null; // from the model's metadata where the engine reads it (edgeq)
  preprocessing: EdgeqPreprocessing | null;
  run(x: Float32Array, shape: number[]): Promise<{ data: Float32Array; outputName: string }>;
  dispose(): void;
}

// A step down, once: one activation may load a model twice (an update rejected, then the installed one).
export function addFallback(list: Fallback[], f: Fallback): void {
  if (!list.some((g) => g.from === f.from && g.to === f.to && g.reason === f.reason)) list.push(f);
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0];

let edgeqModule: Promise<EdgeqModule> | null = null;
let ortModule: Promise<OrtModule> | null = null;
// How the ORT WASM backend was set up (numThreads is read once, when ORT starts its wasm module).
export let ortWasmSetup: { threads: number; reason: string | null } | null = null;

// How edgeq's module was chosen: the pthread build (edgeq-mt/, -DEDGEQ_WASM_THREADS=ON: a pool of
// EDGEQ_POOL workers started with the module) when the page is cross-origin isolated and the build shipped
// it, else the one-thread build (edgeq/). Decided once per page, like onnxruntime-web's numThreads.
export let edgeqSetup: { threads: number; reason: string | null } | null = null;
const EDGEQ_POOL = 4; // -sPTHREAD_POOL_SIZE of the pthread build (cmake/wasm.cmake)

// ?threads=1 in the page's URL asks both engines for one thread: with a prediction now and then (a stroke,
// a camera frame) sleeping workers take longer to wake than a small model takes to run (docs/web.md).
function oneThreadAsked(): string | null {
  return new URLSearchParams(location.search).get('threads') === '1' ? 'one thread asked for (?threads=1 in the URL)' : null;
}

function edgeq(): Promise<EdgeqModule> {
  edgeqModule ??= (async () => {
    const load = (dir: string): Promise<EdgeqModule> =>
      import(/* @vite-ignore */ new URL(`${dir}/edgeq.mjs`, document.baseURI).href) as Promise<EdgeqModule>;
    const cores = navigator.hardwareConcurrency || 1;
    let reason: string;
    const asked = oneThreadAsked();
    if (asked) {
      reason = asked;
    } else if (!self.crossOriginIsolated) {
      reason = 'the page is not cross-origin isolated (no COOP/COEP headers): no SharedArrayBuffer, so no pthreads';
    } else if (cores < 2) {
      reason = `navigator.hardwareConcurrency is ${cores}`;
    } else {
      try {
        const m = await load('edgeq-mt');
        await m.Edgeq.version(); // instantiates the module and starts its workers
        edgeqSetup = { threads: Math.min(EDGEQ_POOL, cores), reason: null };
        return m;
      } catch (e) {
        reason = `edgeq's pthread build did not start: ${errorText(e)}`;
      }
    }
    edgeqSetup = { threads: 1, reason };
    return load('edgeq');
  })();
  return edgeqModule;
}

export async function edgeqVersion(): Promise<string> {
  return (await edgeq()).Edgeq.version();
}

export async function createEdgeqEngine(bytes: Uint8Array, fallbacks: Fallback[]): Promise<Engine> {
  const m = await edgeq();
  const { threads, reason } = edgeqSetup!;
  if (reason) addFallback(fallbacks, { from: 'edgeq-wasm threads', to: 'edgeq-wasm 1 thread', reason });
  const session = await m.Edgeq.load(bytes, { threads });
  return {
    backend: 'edgeq-wasm',
    detail: `edgeq wasm32, SIMD128, ${threads} thread${threads === 1 ? '' : 's'}`,
    labels: session.labels,
    preprocessing: session.preprocessing,
    async run(x, shape) {
      const [out] = session.run(x, shape);
      return { data: out.data, outputName: out.name };
    },
    dispose: () => session.dispose(),
  };
}

function ort(): Promise<OrtModule> {
  ortModule ??= (async () => {
    const base = new URL('ort/', document.baseURI).href;
    const m = (await import(/* @vite-ignore */ `${base}ort.webgpu.min.mjs`)) as OrtModule;
    m.env.wasm.wasmPaths = base;
    m.env.wasm.proxy = false;
    m.env.logLevel = 'error';
    // Threads need SharedArrayBuffer, which only a cross-origin isolated page (COOP + COEP) has.
    const cores = navigator.hardwareConcurrency || 1;
    const asked = oneThreadAsked();
    if (asked) {
      ortWasmSetup = { threads: 1, reason: asked };
    } else if (!self.crossOriginIsolated) {
      ortWasmSetup = { threads: 1, reason: 'the page is not cross-origin isolated (no COOP/COEP headers): no SharedArrayBuffer, so no WASM threads' };
    } else if (cores < 2) {
      ortWasmSetup = { threads: 1, reason: `navigator.hardwareConcurrency is ${cores}` };
    } else {
      ortWasmSetup = { threads: Math.min(4, cores), reason: null };
    }
    m.env.wasm.numThreads = ortWasmSetup.threads;
    return m;
  })();
  return ortModule;
}

function ortEngine(m: OrtModule, session: OrtSession, backend: BackendId, detail: string): Engine {
  return {
    backend,
    detail,
    labels: null,
    preprocessing: null,
    async run(x, shape) {
      const name = session.outputNames[0];
      const out = await session.run({ [session.inputNames[0]]: new m.Tensor('float32', x, shape) });
      return { data: out[name].data as Float32Array, outputName: name };
    },
    dispose: () => void session.release(),
  };
}

// Why WebGPU cannot be used here, or null when an adapter exists.
async function webgpuUnavailable(): Promise<{ reason: string | null; adapter: string }> {
  const gpu = (navigator as Navigator & { gpu?: Gpu }).gpu;
  if (!gpu) return { reason: 'navigator.gpu is undefined: this browser has WebGPU disabled', adapter: '' };
  let adapter;
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    return { reason: `navigator.gpu.requestAdapter() threw: ${errorText(e)}`, adapter: '' };
  }
  if (!adapter) return { reason: 'navigator.gpu.requestAdapter() returned null: no WebGPU adapter', adapter: '' };
  const info = adapter.info || {};
  return { reason: null, adapter: [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unnamed adapter' };
}

// onnxruntime-web on `bytes`, WebGPU first when asked; every step down is pushed to `fallbacks`.
// `check` runs the engine once (a failure there also moves down the chain).
export async function createOrtEngine(bytes: Uint8Array, wantWebgpu: boolean, fallbacks: Fallback[],
  check: (e: Engine) => Promise<void>): Promise<Engine> {
  const m = await ort();
  if (wantWebgpu) {
    const { reason, adapter } = await webgpuUnavailable();
    let why = reason;
    if (!why) {
      let session: OrtSession | null = null;
      try {
        session = await m.InferenceSession.create(bytes, { executionProviders: ['webgpu'], graphOptimizationLevel: 'all' });
        const engine = ortEngine(m, session, 'ort-webgpu', `onnxruntime-web ${m.env.versions?.web ?? ''} WebGPU EP on ${adapter}`);
        await check(engine);
        return engine;
      } catch (e) {
        why = `the WebGPU EP failed: ${errorText(e)}`;
        if (session) void session.release();
      }
    }
    addFallback(fallbacks, { from: 'ort-webgpu', to: 'ort-wasm', reason: why });
  }
  const setup = ortWasmSetup!;
  if (setup.reason) addFallback(fallbacks, { from: 'ort-wasm threads', to: 'ort-wasm 1 thread', reason: setup.reason });
  const session = await m.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const threads = m.env.wasm.numThreads ?? setup.threads;
  const engine = ortEngine(m, session, 'ort-wasm',
    `onnxruntime-web ${m.env.versions?.web ?? ''} WASM EP, SIMD, ${threads} thread${threads === 1 ? '' : 's'}`);
  try {
    await check(engine);
  } catch (e) {
    engine.dispose();
    throw e;
  }
  return engine;
}
