// IndexedDB: the installed models (one record per manifest name + precision: the bytes and what the
// manifest said about them) and the user's calibration samples. One database, opened once.

const DB_NAME = 'edgeq';
const DB_VERSION = 1;
export const MODELS = 'models';
export const SAMPLES = 'samples';

export interface InstalledModel {
  slot: string; // `${name}:${precision}`
  name: string;
  version: string;
  precision: string;
  sha256: string;
  size: number;
  bytes: Uint8Array;
  installedAt: number;
}

export interface CalibrationSample {
  id?: number;
  labelIndex: number;
  label: string;
  source: string; // 'draw' | 'upload' | 'camera'
  channels: number;
  height: number;
  width: number;
  pixels: Uint8Array; // CHW, 0..255: what the image was before normalization
  tensor: Float32Array; // the exact input the model saw
  shape: number[];
  model: string; // `${name}@${version}` (${precision})
  recordedAt: number;
}

let dbPromise: Promise<IDBDatabase> | null = null;

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

export function openDb(): Promise<IDBDatabase> {
  dbPromise ??= new Promise((resolve, reject) => {
    const open = indexedDB.open(DB_NAME, DB_VERSION);
    open.onupgradeneeded = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains(MODELS)) db.createObjectStore(MODELS, { keyPath: 'slot' });
      if (!db.objectStoreNames.contains(SAMPLES)) db.createObjectStore(SAMPLES, { keyPath: 'id', autoIncrement: true });
    };
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  return dbPromise;
}

async function store(name: string, mode: IDBTransactionMode): Promise<IDBObjectStore> {
  return (await openDb()).transaction(name, mode).objectStore(name);
}

// One write, resolved when its transaction has committed, not when the request succeeded: a request's
// success comes before the commit, and a page reloaded in between (the app is `ready` by then) lost the
// write: a newly installed model version was downloaded again on the next load.
async function write<T>(name: string, op: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const tx = (await openDb()).transaction(name, 'readwrite');
  const committed = new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error(`${name}: transaction aborted`));
    tx.onerror = () => reject(tx.error);
  });
  const result = await request(op(tx.objectStore(name)));
  await committed;
  return result;
}

export async function getModel(slot: string): Promise<InstalledModel | undefined> {
  return request<InstalledModel | undefined>((await store(MODELS, 'readonly')).get(slot));
}

// Replaces the slot's record in one put: the previous version stays readable until this resolves.
export async function putModel(model: InstalledModel): Promise<void> {
  await write(MODELS, (s) => s.put(model));
}

export async function addSample(sample: CalibrationSample): Promise<number> {
  return Number(await write(SAMPLES, (s) => s.add(sample)));
}

export async function allSamples(): Promise<CalibrationSample[]> {
  return request<CalibrationSample[]>((await store(SAMPLES, 'readonly')).getAll());
}

export async function clearSamples(): Promise<void> {
  await write(SAMPLES, (s) => s.clear());
}
