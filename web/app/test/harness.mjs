// What the app's Chromium tests share: a loopback static server for the built app (COOP/COEP so the page
// is cross-origin isolated, no-store so only the app's own caches can avoid a download, a request count
// per path, a replaceable models.json and per-path overrides), Debian's chromium through playwright-core
// with a fresh profile, and the environment ctest passes.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

// From the machine notes (tools/peers/ort_web/run.mjs uses the same): without the background-networking
// flags Chromium keeps dialing hosts this closed network refuses.
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
// A real WebGPU adapter in headless Chromium (SwiftShader's software Vulkan), verified on this machine kind.
export const WEBGPU_FLAGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader'];
const CONTENT_TYPES = { '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript', '.css': 'text/css',
  '.wasm': 'application/wasm', '.json': 'application/json', '.png': 'image/png', '.onnx': 'application/octet-stream' };

export function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run the web tests through ctest: ctest -L web)`);
  return v;
}

// Serves `root`. options.isolated (default true): COOP/COEP/CORP headers.
// Returns {url, requests: Map<path, count>, count(path), setManifest(obj|null), override(path, bytes|null),
//          addFile(path, bytes), stop()}.
export async function startServer(root, { isolated = true } = {}) {
  const requests = new Map();
  const overrides = new Map();
  let manifest = null;
  const server = http.createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
    requests.set(pathname, (requests.get(pathname) || 0) + 1);
    if (isolated) {
      res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
      res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
      res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    }
    res.setHeader('Cache-Control', 'no-store');
    const send = (bytes, type) => {
      res.writeHead(200, { 'Content-Type': type, 'Content-Length': bytes.length });
      res.end(bytes);
    };
    if (pathname === '/models.json' && manifest) return send(Buffer.from(JSON.stringify(manifest)), 'application/json');
    if (overrides.has(pathname)) return send(overrides.get(pathname), CONTENT_TYPES[path.extname(pathname)] || 'application/octet-stream');
    const file = path.resolve(root, `.${pathname.endsWith('/') ? `${pathname}index.html` : pathname}`);
    if (!file.startsWith(path.resolve(root) + path.sep) || !existsSync(file)) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      return res.end('not found');
    }
    send(readFileSync(file), CONTENT_TYPES[path.extname(file)] || 'application/octet-stream');
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    requests,
    count: (p) => requests.get(p) || 0,
    setManifest: (m) => { manifest = m; },
    override: (p, bytes) => (bytes ? overrides.set(p, bytes) : overrides.delete(p)),
    stop: () => new Promise((resolve) => {
      server.close(resolve);
      server.closeAllConnections();
    }),
  };
}

// Debian's chromium through playwright-core, a fresh profile each time. A missing browser is an error,
// not a skip.
export async function launch({ webgpu = false, args: extraArgs = [] } = {}) {
  const executablePath = process.env.EDGEQ_CHROMIUM || '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(`chromium not found at ${executablePath}: run scripts/setup (Debian package chromium)`);
  const playwright = path.join(REPO, 'tools/peers/node_modules/playwright-core/index.mjs');
  if (!existsSync(playwright)) throw new Error(`${playwright} missing: run scripts/setup (npm peers in tools/peers)`);
  const { chromium } = await import(pathToFileURL(playwright).href);
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'edgeq-web-test-'));
  // WebGPU needs the GPU process, which --disable-gpu would stop; without the WebGPU flags it stays off.
  const args = [...(webgpu ? [...CHROMIUM_FLAGS, ...WEBGPU_FLAGS] : [...CHROMIUM_FLAGS, '--disable-gpu']), ...extraArgs];
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath, headless: true, args, timeout: 60000, acceptDownloads: true, viewport: { width: 1100, height: 760 },
  });
  const page = context.pages()[0] || (await context.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e.message || e)));
  return {
    context, page, errors,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export const appState = (page) => page.evaluate(() => JSON.parse(JSON.stringify(window.edgeqApp.state)));

// Loads (or reloads) the app and waits until it has answered its start-up image.
export async function openApp(page, url, { reload = false } = {}) {
  if (reload) await page.reload();
  else await page.goto(url);
  await page.waitForFunction(() => window.edgeqApp && window.edgeqApp.state.ready, null, { timeout: 90000 });
  return appState(page);
}

// Selects a backend through the page's switch and waits for the answer on the image shown.
export async function selectBackend(page, id) {
  const before = (await appState(page)).predictions;
  await page.selectOption('#backend', id);
  await page.waitForFunction((n) => window.edgeqApp.state.predictions > n || window.edgeqApp.state.error, before, { timeout: 90000 });
  return appState(page);
}

// Uploads an image file through the page's file input and waits for its prediction.
export async function uploadImage(page, file) {
  const before = (await appState(page)).predictions;
  await page.setInputFiles('#upload', file);
  await page.waitForFunction((n) => window.edgeqApp.state.predictions > n, before, { timeout: 60000 });
  return appState(page);
}
