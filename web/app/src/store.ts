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

export async function getModel(slot: string): Promise<InstalledModel | undefined> {
  return request<InstalledModel | undefined>((await store(MODELS, 'readonly')).get(slot));
}

// Replaces the slot's record in one put: the previous version stays readable until this resolves.
export async function putModel(model: InstalledModel): Promise<void> {
  await request((await store(MODELS, 'readwrite')).put(model));
}

export async function addSample(sample: CalibrationSample): Promise<number> {
  return Number(await request((await store(SAMPLES, 'readwrite')).add(sample)));
}

export async function allSamples(): Promise<CalibrationSample[]> {
  return request<CalibrationSample[]>((await store(SAMPLES, 'readonly')).getAll());
}

export async function clearSamples(): Promise<void> {
  await request((await store(SAMPLES, 'readwrite')).clear());
}
