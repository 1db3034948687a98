// The two engines the app loads at run time by URL (tools/build.mjs copies them beside the app):
// web/edgeq/edgeq.mjs (edgeq's wasm runtime) and onnxruntime-web's WebGPU+WASM bundle. Only what the
// app uses is declared.

export interface EdgeqOutput { name: string; dtype: string; shape: number[]; data: Float32Array }
export interface EdgeqPreprocessing {
  mean: number[] | null; std: number[] | null; channels: number | null; height: number | null; width: number | null;
}
export interface EdgeqSession {
  inputs: { name: string; dtype: string; shape: number[] }[];
  outputs: { name: string; dtype: string; shape: number[] }[];
  labels: string[] | null;
  preprocessing: EdgeqPreprocessing | null;
  metadata: Record<string, string>;
  run(data: Float32Array, shape: number[]): EdgeqOutput[];
  dispose(): void;
}
export interface EdgeqModule {
  Edgeq: { load(bytes: Uint8Array, options?: { threads?: number }): Promise<EdgeqSession>; version(): Promise<string> };
}

export interface OrtTensor { data: Float32Array; dims: readonly number[] }
export interface OrtSession {
  inputNames: readonly string[];
  outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
export interface OrtModule {
  env: {
    wasm: { wasmPaths?: string; numThreads?: number; simd?: boolean; proxy?: boolean };
    logLevel?: string;
    versions?: { web?: string };
  };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => OrtTensor;
  InferenceSession: {
    create(bytes: Uint8Array, options: { executionProviders: string[]; graphOptimizationLevel?: string }): Promise<OrtSession>;
  };
}

// WebGPU, as far as the fallback chain looks at it (TypeScript 5.9's DOM library has no WebGPU types).
export interface GpuAdapterInfo { vendor?: string; architecture?: string; description?: string }
export interface GpuAdapter { info?: GpuAdapterInfo }
export interface Gpu { requestAdapter(): Promise<GpuAdapter | null> }
