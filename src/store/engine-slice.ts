// Engine slice: starts the worker, picks the backend, opens a share link or the last model.
import { EngineClient } from '../worker/client';
import { listStoredModels } from '../storage/model-store';
import { LAST_MODEL_KEY } from './model-slice';
import { toUiError, type EngineSlice, type Slice } from './types';

export const createEngineSlice: Slice<EngineSlice> = (set, get) => ({
  client: null,
  backend: null,
  gpuError: null,

  async start(force, shareFragment, wasmHeapLimitBytes = null, nf4Kernel = null) {
    const c = EngineClient.create();
    c.onGpuError = (message) => set({ gpuError: message });
    set({ client: c });
    const { info } = await c.init(force, wasmHeapLimitBytes, nf4Kernel);
    set({ backend: info });
    // Ask the browser to keep stored models under storage pressure (granted silently or not at all).
    void navigator.storage?.persist?.().catch(() => false);
    const stored = await listStoredModels().catch(() => []);
    set({ storedModels: stored });
    if (shareFragment) {
      set({ shareOpening: true, modelBusy: true, modelError: null });
      try {
        const r = await c.openShare(shareFragment, (p) => set({ modelProgress: p }));
        set({ model: r.model, adapter: r.adapter, modelInput: r.model.source });
      } catch (e) {
        set({ useError: toUiError('This share link could not be opened', e) });
      } finally {
        set({ shareOpening: false, modelBusy: false, modelProgress: null });
      }
      return;
    }
    // Next visit: the last model comes straight from IndexedDB, no network.
    const last = localStorage.getItem(LAST_MODEL_KEY);
    if (last && stored.some((m) => m.source === last && m.complete)) await get().loadModel(last);
  },
});
