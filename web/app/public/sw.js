// edgeq app's service worker: the app shell offline. At install it caches the files tools/build.mjs
// listed in shell.json (the page, its scripts, edgeq's wasm module, the sample image); later same-origin
// GETs are answered from the cache first and added to it (onnxruntime-web's files once used). Page
// navigations go to the network first, so a new build is picked up online. models.json and models/ are
// never touched here: the app keeps models in IndexedDB and handles an unreachable manifest itself.
const CACHE = 'edgeq-shell-__BUILD_ID__';

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const list = await (await fetch('shell.json', { cache: 'no-store' })).json();
    const cache = await caches.open(CACHE);
    await cache.addAll(list.files);
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key.startsWith('edgeq-shell-') && key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  const scope = new URL(self.registration.scope);
  const path = url.pathname.slice(scope.pathname.length);
  if (path === 'models.json' || path.startsWith('models/')) return;
  if (request.mode === 'navigate') {
    event.respondWith((async () => {
      try {
        const response = await fetch(request);
        if (response.ok) (await caches.open(CACHE)).put('index.html', response.clone());
        return response;
      } catch (e) {
        const cached = await caches.match('index.html', { ignoreSearch: true });
        if (cached) return cached;
        throw e;
      }
    })());
    return;
  }
  event.respondWith((async () => {
    const cached = await caches.match(request, { ignoreSearch: true });
    if (cached) return cached;
    const response = await fetch(request);
    if (response.ok) (await caches.open(CACHE)).put(request, response.clone());
    return response;
  })());
});
