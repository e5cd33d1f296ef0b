// Dataset slice: the user's dataset options, the parsed file's report, and the optional validation
// file. A new file with nothing usable never replaces a good one; an option change re-reads the
// current file and always shows the result, so the user sees what the option did.
import { DEFAULT_DATASET_OPTIONS } from '../data/prepare';
import { DEFAULT_USE_PROMPT } from './use-slice';
import { requireClient, toUiError, type AppState, type DatasetSlice, type Slice } from './types';

/** Parses `file` with the current options; returns the report or null (and sets datasetError). */
async function parse(get: () => AppState, set: (p: Partial<AppState>) => void, file: Blob, fileName: string, isNewFile: boolean): Promise<boolean> {
  set({ datasetBusy: true, datasetError: null, datasetProgress: null });
  try {
    const { datasetOptions, validationFile } = get();
    const { report } = await requireClient(get).parseDataset(file, fileName, datasetOptions, (p) => set({ datasetProgress: p }), validationFile);
    if (report.examples === 0) {
      const why = report.lines === 0 ? 'The file has no lines.' : `None of its ${report.lines} lines is a valid example.`;
      const first = report.errors.slice(0, 3).map((x) => `line ${x.line}: ${x.error}`).join('; ');
      const prev = get().dataset;
      const kept = isNewFile && prev ? ` The previous dataset (${prev.fileName}) is kept.` : '';
      set({ datasetError: { title: `${fileName} cannot be used`, message: `${why}${first ? ` ${first}.` : ''}${kept}` } });
      // A new file with nothing usable keeps the old dataset; an option change shows what it did.
      if (isNewFile) return false;
    }
    const prev = get().dataset;
    set({ dataset: report, datasetFile: { file, fileName } });
    // Chat data for a chat model: the Use step asks a held-out question as a chat turn, unless the
    // person already typed a prompt of their own.
    if (report.chatPrompt && get().model?.hasChatTemplate) {
      const untouched = get().prompt === DEFAULT_USE_PROMPT || get().prompt === prev?.chatPrompt;
      set({ chatPrompt: true, ...(untouched ? { prompt: report.chatPrompt } : {}) });
    }
    return true;
  } catch (e) {
    set({ datasetError: toUiError(`${fileName} cannot be read`, e) });
    return false;
  } finally {
    set({ datasetBusy: false, datasetProgress: null });
  }
}

export const createDatasetSlice: Slice<DatasetSlice> = (set, get) => ({
  dataset: null,
  datasetBusy: false,
  datasetProgress: null,
  datasetError: null,
  datasetOptions: DEFAULT_DATASET_OPTIONS, // maxLength 129 = the train slice's default seqLen 128 + 1
  datasetFile: null,
  validationFile: null,

  async loadDataset(file, fileName) {
    await parse(get, set, file, fileName, true);
  },

  async setDatasetOptions(p) {
    set({ datasetOptions: { ...get().datasetOptions, ...p } });
    // The dataset's maximum length is the training sequence length plus the last target.
    if (p.maxLength !== undefined) get().setTrain({ seqLen: Math.max(1, p.maxLength - 1) });
    const f = get().datasetFile;
    if (f) await parse(get, set, f.file, f.fileName, false);
  },

  async setValidationFile(v) {
    set({ validationFile: v });
    const f = get().datasetFile;
    if (f) await parse(get, set, f.file, f.fileName, false);
  },
});
