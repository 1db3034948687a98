// Model delivery: models.json names each model's version (semver), sha256, size, precision and a URL
// that carries the hash (content-addressed, so caches never serve a stale file under it). A model is
// downloaded once, checked against its sha256 and size, and kept in IndexedDB; a new manifest version
// replaces it only after the new bytes have loaded and answered one test input, otherwise the installed
// version keeps serving (rollback) and the rejection is reported.
import { getModel, putModel, type InstalledModel } from './store';

export interface ManifestEntry {
  name: string;
  version: string;
  precision: 'int8' | 'fp32';
  sha256: string;
  size: number;
  url: string;
  labels?: string[];
  preprocessing?: { mean: number[]; std: number[]; channels: number; height: number; width: number };
}
export interface Manifest { models: ManifestEntry[] }

export type DeliveryEvent =
  | { kind: 'download'; slot: string; version: string; url: string; bytes: number }
  | { kind: 'cache-hit'; slot: string; version: string }
  | { kind: 'installed'; slot: string; version: string; replaced: string | null }
  | { kind: 'rejected'; slot: string; version: string; reason: string; keeping: string | null }
  | { kind: 'offline'; slot: string; version: string; reason: string };

const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
const HEX64 = /^[0-9a-f]{64}$/;

export function slotOf(entry: { name: string; precision: string }): string {
  return `${entry.name}:${entry.precision}`;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as BufferSource);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

// The manifest as the app accepts it: every entry well-formed, its URL naming its hash.
export function checkManifest(value: unknown): Manifest {
  const m = value as Manifest;
  if (!m || !Array.isArray(m.models)) throw new Error('models.json: no "models" array');
  for (const e of m.models) {
    const where = `models.json: ${e && e.name}`;
    if (typeof e.name !== 'string' || !e.name) throw new Error('models.json: an entry without a name');
    if (!SEMVER.test(e.version)) throw new Error(`${where}: version "${e.version}" is not semver`);
    if (e.precision !== 'int8' && e.precision !== 'fp32') throw new Error(`${where}: precision "${e.precision}"`);
    if (!HEX64.test(e.sha256)) throw new Error(`${where}: sha256 is not 64 hex digits`);
    if (!Number.isInteger(e.size) || e.size <= 0) throw new Error(`${where}: size ${e.size}`);
    if (typeof e.url !== 'string' || !e.url.includes(e.sha256)) throw new Error(`${where}: url ${e.url} does not carry the sha256`);
  }
  return m;
}

export async function fetchManifest(url: string): Promise<Manifest> {
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return checkManifest(await response.json());
}

// A file with the manifest's hash that does not load or answer: that hash never will, so it is remembered
// and not downloaded again at every load. A size or sha256 mismatch (which a broken proxy or a cut
// transfer can cause) and network failures are retried at the next load.
class BadModel extends Error {}

async function download(entry: ManifestEntry, base: string): Promise<Uint8Array> {
  const url = new URL(entry.url, base).href;
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${entry.url}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length !== entry.size) throw new Error(`${entry.url}: ${bytes.length} bytes, the manifest says ${entry.size}`);
  const hash = await sha256Hex(bytes);
  if (hash !== entry.sha256) throw new Error(`${entry.url}: sha256 ${hash} does not match the manifest's ${entry.sha256}`);
  return bytes;
}

// `validate` loads the bytes in the engine that will serve them and runs one test input; it throws when
// the model cannot load or answer. Returns the model to serve: the manifest's version when it is (or
// becomes) installed, else the installed one; throws when there is none.
export async function ensureModel(entry: ManifestEntry | null, slot: string, base: string,
  validate: (bytes: Uint8Array) => Promise<void>, report: (e: DeliveryEvent) => void,
  offlineReason: string | null): Promise<InstalledModel> {
  const installed = await getModel(slot);
  if (!entry) {
    if (!installed) throw new Error(`${slot}: no manifest (${offlineReason ?? 'not listed'}) and nothing installed`);
    report({ kind: 'offline', slot, version: installed.version, reason: offlineReason ?? `${slot} not in the manifest` });
    return installed;
  }
  if (installed && installed.version === entry.version && installed.sha256 === entry.sha256) {
    report({ kind: 'cache-hit', slot, version: installed.version });
    return installed;
  }
  // A hash that failed to load or run before is not downloaded again (its reason is remembered).
  const rejectedKey = `edgeq.rejected.${entry.sha256}`;
  const knownBad = localStorage.getItem(rejectedKey);
  try {
    if (knownBad) throw new Error(`${knownBad} (remembered from an earlier load)`);
    const bytes = await download(entry, base);
    report({ kind: 'download', slot, version: entry.version, url: entry.url, bytes: bytes.length });
    try {
      await validate(bytes);
    } catch (e) {
      throw new BadModel(`loaded or ran wrongly: ${e instanceof Error ? e.message : String(e)}`);
    }
    const model: InstalledModel = { slot, name: entry.name, version: entry.version, precision: entry.precision,
      sha256: entry.sha256, size: entry.size, bytes, installedAt: Date.now() };
    await putModel(model);
    report({ kind: 'installed', slot, version: entry.version, replaced: installed ? installed.version : null });
    return model;
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    if (e instanceof BadModel) localStorage.setItem(rejectedKey, reason);
    report({ kind: 'rejected', slot, version: entry.version, reason, keeping: installed ? installed.version : null });
    if (!installed) throw new Error(`${slot} ${entry.version}: ${reason}`);
    return installed;
  }
}
