// edgeq in WebAssembly: a small ES module over the C API (include/edgeq/edgeq_c.h) compiled by
// web/edgeq/CMakeLists.txt into edgeq-wasm.mjs + edgeq-wasm.wasm, which sit next to this file.
//
//   import { Edgeq } from './edgeq.mjs';
//   const session = await Edgeq.load(modelBytes);           // ArrayBuffer or typed array of an ONNX file
//   const [logits] = session.run(pixels, [1, 1, 28, 28]);   // Float32Array + shape -> outputs
//   session.labels, session.preprocessing, session.metadata // from the model's metadata_props
//   session.dispose();
//
// One wasm instance serves every session (created on the first load). Errors from the runtime are
// thrown as EdgeqError with the C API's status name and message.
import createEdgeqModule from './edgeq-wasm.mjs';

const POINTER = 4; // wasm32
const DTYPES = {
  1: ['float32', Float32Array], 2: ['uint8', Uint8Array], 3: ['int8', Int8Array], 4: ['uint16', Uint16Array],
  5: ['int16', Int16Array], 6: ['int32', Int32Array], 7: ['int64', BigInt64Array], 9: ['bool', Uint8Array],
  11: ['float64', Float64Array], 12: ['uint32', Uint32Array], 13: ['uint64', BigUint64Array],
};
const FLOAT32 = 1;

export class EdgeqError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'EdgeqError';
    this.status = status;
  }
}

let modulePromise = null;

// The Emscripten module, instantiated once. Under Node the glue (built for web and worker only, see
// CMakeLists.txt) cannot read files, so the .wasm bytes are handed over here.
function instance(options = {}) {
  if (!modulePromise) {
    modulePromise = (async () => {
      const moduleOptions = {};
      if (options.wasmBinary) {
        moduleOptions.wasmBinary = options.wasmBinary;
      } else if (typeof process === 'object' && process.versions && process.versions.node) {
        const { readFile } = await import('node:fs/promises');
        moduleOptions.wasmBinary = await readFile(new URL('./edgeq-wasm.wasm', import.meta.url));
      }
      return createEdgeqModule(moduleOptions);
    })();
  }
  return modulePromise;
}

function check(M, status) {
  if (status !== 0) {
    throw new EdgeqError(M.UTF8ToString(M._edgeq_status_name(status)), M.UTF8ToString(M._edgeq_last_error()));
  }
}

// int64 little-endian at byte address p, as a Number (dims: exact below 2^53; -1 for an open dim).
function readInt64(M, p) {
  return M.HEAP32[(p >> 2) + 1] * 4294967296 + (M.HEAP32[p >> 2] >>> 0);
}

function readShape(M, ptr, rank) {
  const shape = [];
  for (let i = 0; i < rank; ++i) shape.push(readInt64(M, ptr + 8 * i));
  return shape;
}

// Parses the preprocessing edgeq writes into metadata_props (data module: mean/std JSON arrays,
// channels/height/width integers); null when the model has none of it.
function preprocessingOf(metadata) {
  if (!('mean' in metadata || 'std' in metadata || 'channels' in metadata)) return null;
  const number = (key) => (key in metadata ? Number(metadata[key]) : null);
  return {
    mean: 'mean' in metadata ? JSON.parse(metadata.mean) : null,
    std: 'std' in metadata ? JSON.parse(metadata.std) : null,
    channels: number('channels'),
    height: number('height'),
    width: number('width'),
  };
}

class Session {
  constructor(M, handle) {
    this._M = M;
    this._handle = handle;
    const info = M._malloc(16); // edgeq_io_info: name, dtype, rank, shape (4 bytes each on wasm32)
    try {
      const describe = (count, get) => {
        const list = [];
        for (let i = 0; i < count; ++i) {
          check(M, get(handle, i, info));
          const w = info >> 2;
          list.push({
            name: M.UTF8ToString(M.HEAPU32[w]),
            dtype: DTYPES[M.HEAP32[w + 1]] ? DTYPES[M.HEAP32[w + 1]][0] : 'unsupported',
            shape: readShape(M, M.HEAPU32[w + 3], M.HEAPU32[w + 2]),
          });
        }
        return list;
      };
      this.inputs = describe(M._edgeq_session_input_count(handle), M._edgeq_session_input_info);
      this.outputs = describe(M._edgeq_session_output_count(handle), M._edgeq_session_output_info);
      // metadata_props: key -> value strings (a later duplicate key wins, as in a JSON object).
      this.metadata = {};
      const kv = info; // two pointers
      for (let i = 0, n = M._edgeq_session_metadata_count(handle); i < n; ++i) {
        check(M, M._edgeq_session_metadata(handle, i, kv, kv + POINTER));
        this.metadata[M.UTF8ToString(M.HEAPU32[kv >> 2])] = M.UTF8ToString(M.HEAPU32[(kv >> 2) + 1]);
      }
    } finally {
      M._free(info);
    }
    this.labels = 'labels' in this.metadata ? JSON.parse(this.metadata.labels) : null;
    this.preprocessing = preprocessingOf(this.metadata);
  }

  // Runs the model's single float32 input on `data` with `shape` (default: the declared shape, which
  // must then be fully known). Returns the outputs in model order: {name, dtype, shape, data}, `data` a
  // typed array copied out of wasm memory.
  run(data, shape) {
    const M = this._M;
    if (!this._handle) throw new EdgeqError('INVALID_ARGUMENT', 'session disposed');
    if (this.inputs.length !== 1) {
      throw new EdgeqError('INVALID_ARGUMENT', `run(data, shape) takes one input; the model has ${this.inputs.length}`);
    }
    if (!(data instanceof Float32Array)) throw new EdgeqError('INVALID_ARGUMENT', 'data must be a Float32Array');
    shape = shape || this.inputs[0].shape;
    const elements = shape.reduce((a, b) => a * b, 1);
    if (shape.some((d) => !Number.isInteger(d) || d < 0) || elements !== data.length) {
      throw new EdgeqError('INVALID_ARGUMENT', `shape [${shape}] does not describe ${data.length} floats`);
    }
    const nOut = this.outputs.length;
    const bytes = data.length * 4;
    // One block: the input floats, the int64 shape, the edgeq_input struct, the output handles.
    const inputStruct = 20; // dtype, rank, shape*, data*, size_bytes
    const block = M._malloc(bytes + 8 * shape.length + inputStruct + POINTER * nOut + 32);
    const dataPtr = (block + 15) & ~15;
    const shapePtr = (dataPtr + bytes + 7) & ~7;
    const inputPtr = shapePtr + 8 * shape.length;
    const outPtr = inputPtr + inputStruct;
    try {
      M.HEAPF32.set(data, dataPtr >> 2);
      shape.forEach((d, i) => {
        M.HEAP32[(shapePtr >> 2) + 2 * i] = d;
        M.HEAP32[(shapePtr >> 2) + 2 * i + 1] = 0;
      });
      M.HEAP32.set([FLOAT32, shape.length, shapePtr, dataPtr, bytes], inputPtr >> 2);
      check(M, M._edgeq_session_run_alloc(this._handle, inputPtr, 1, outPtr, nOut));
      const results = [];
      for (let i = 0; i < nOut; ++i) {
        const t = M.HEAPU32[(outPtr >> 2) + i];
        try {
          const code = M._edgeq_tensor_dtype(t);
          const [dtype, Typed] = DTYPES[code] || [null, null];
          if (!Typed) throw new EdgeqError('UNSUPPORTED', `output ${this.outputs[i].name}: dtype ${code}`);
          const size = M._edgeq_tensor_size_bytes(t);
          const copy = M.HEAPU8.slice(M._edgeq_tensor_data(t), M._edgeq_tensor_data(t) + size);
          results.push({
            name: this.outputs[i].name,
            dtype,
            shape: readShape(M, M._edgeq_tensor_shape(t), M._edgeq_tensor_rank(t)),
            data: new Typed(copy.buffer, 0, size / Typed.BYTES_PER_ELEMENT),
          });
        } finally {
          M._edgeq_tensor_destroy(t);
        }
      }
      return results;
    } finally {
      M._free(block);
    }
  }

  dispose() {
    if (this._handle) this._M._edgeq_session_destroy(this._handle);
    this._handle = 0;
  }
}

export const Edgeq = {
  // bytes: an ONNX model (ArrayBuffer, Uint8Array or any typed array). options.threads is accepted for
  // the C API's sake; this build runs one thread. options.wasmBinary: the .wasm bytes, where neither
  // fetch next to this module nor Node's file system can get them.
  async load(bytes, options = {}) {
    const M = await instance(options);
    const view = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const buffer = M._malloc(view.length);
    const opts = M._malloc(8); // edgeq_options: size, threads
    const out = M._malloc(POINTER);
    try {
      M.HEAPU8.set(view, buffer);
      M._edgeq_options_init(opts);
      M.HEAP32[(opts >> 2) + 1] = options.threads || 1;
      check(M, M._edgeq_session_create_from_buffer(buffer, view.length, opts, out));
      const handle = M.HEAPU32[out >> 2];
      try {
        return new Session(M, handle);
      } catch (e) {
        M._edgeq_session_destroy(handle);
        throw e;
      }
    } finally {
      M._free(out);
      M._free(opts);
      M._free(buffer);
    }
  },

  // The runtime's version ("0.1.0").
  async version() {
    const M = await instance();
    return M.UTF8ToString(M._edgeq_version());
  },
};
