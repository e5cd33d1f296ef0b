// Use slice: base-vs-tuned generation, adapter download and share links.
import { downloadBytes } from '../ui/download';
import { encodeHostedAdapterLink } from '../adapters/share-link';
import { requireClient, toUiError, type Slice, type UseSlice } from './types';

/** The Use step's prompt until a chat dataset offers one of its own (or the person types one). */
export const DEFAULT_USE_PROMPT = 'Once upon a time';

export const createUseSlice: Slice<UseSlice> = (set, get) => ({
  prompt: DEFAULT_USE_PROMPT,
  maxNewTokens: 48,
  temperature: 0,
  generation: { base: null, tuned: null, running: false },
  useError: null,
  shareUrl: null,
  shareOpening: false,
  chatPrompt: false,

  setPrompt: (v) => set({ prompt: v }),
  setChatPrompt: (v) => set({ chatPrompt: v }),
  setGenerationOptions: (p) => set({ ...p }),

  async generate() {
    const { prompt, maxNewTokens, temperature, adapter, model } = get();
    const client = requireClient(get);
    set({ generation: { base: '', tuned: adapter ? '' : null, running: true }, useError: null });
    const opts = { maxNewTokens, temperature, seed: 1, chat: get().chatPrompt && model?.hasChatTemplate === true };
    try {
      // Text appears as it is generated; the final reply replaces it.
      if (adapter) {
        // Base and tuned decoded side by side: both columns fill at once, sooner than one after the other.
        const column = (row: number) => (row === 0 ? 'base' : 'tuned');
        const r = await client.generateRows(prompt, { ...opts, rows: [{ useAdapter: false, seed: opts.seed }, { useAdapter: true, seed: opts.seed }] }, (row, _id, text) => set({ generation: { ...get().generation, [column(row)]: text } }));
        const [base, tuned] = r.rows;
        set({ generation: { ...get().generation, base: base.text, baseSpeed: base.speed, tuned: tuned.text, tunedSpeed: tuned.speed, sideBySide: tuned.sideBySide } });
      } else {
        const base = await client.generate(prompt, { ...opts, useAdapter: false }, (_id, text) => set({ generation: { ...get().generation, base: text } }));
        set({ generation: { ...get().generation, base: base.text, baseSpeed: base.speed } });
      }
    } catch (e) {
      set({ useError: toUiError('Generation failed', e) });
    } finally {
      set({ generation: { ...get().generation, running: false } });
    }
  },

  async downloadAdapter() {
    try {
      const r = await requireClient(get).exportAdapter();
      downloadBytes(new TextEncoder().encode(r.adapterConfigJson), 'adapter_config.json', 'application/json');
      downloadBytes(r.adapterSafetensors, 'adapter_model.safetensors', 'application/octet-stream');
    } catch (e) {
      set({ useError: toUiError('Could not export the adapter', e) });
    }
  },

  async downloadModelFolder() {
    try {
      const files = await requireClient(get).exportFullModel();
      for (const f of files.files) downloadBytes(f.bytes, f.name, f.name.endsWith('.json') ? 'application/json' : 'application/octet-stream');
    } catch (e) {
      set({ useError: toUiError('Could not export the model', e) });
    }
  },

  async makeShareLink() {
    try {
      const { url } = await requireClient(get).shareLink(`${location.origin}${location.pathname}`);
      set({ shareUrl: url });
      await navigator.clipboard?.writeText(url).catch(() => undefined);
      return url;
    } catch (e) {
      set({ useError: toUiError('Could not make a share link', e) });
      return null;
    }
  },

  makeHostedLink(where) {
    try {
      const url = encodeHostedAdapterLink(`${location.origin}${location.pathname}`, where);
      set({ shareUrl: url, useError: null });
      void navigator.clipboard?.writeText(url).catch(() => undefined);
      return url;
    } catch (e) {
      set({ useError: toUiError('Could not make a link to the hosted adapter', e) });
      return null;
    }
  },
});
