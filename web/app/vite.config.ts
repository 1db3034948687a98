// The app's own TypeScript only: edgeq's wasm module and onnxruntime-web are copied beside the build by
// tools/build.mjs and imported at run time by URL, so Vite never rewrites Emscripten's or ORT's glue.
import { defineConfig } from 'vite';

export default defineConfig({
  base: './',
  build: { target: 'es2022', outDir: process.env.EDGEQ_WEB_OUT || 'dist', emptyOutDir: true, sourcemap: true },
});
