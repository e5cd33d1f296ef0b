// Dataset slice: the parsed file's report; a file with nothing usable never replaces a good one.
import { requireClient, toUiError, type DatasetSlice, type Slice } from './types';

export const createDatasetSlice: Slice<DatasetSlice> = (set, get) => ({
  dataset: null,
  datasetBusy: false,
  datasetProgress: null,
  datasetError: null,

  async loadDataset(file, fileName) {
    set({ datasetBusy: true, datasetError: null, datasetProgress: null });
    try {
      const { report } = await requireClient(get).parseDataset(file, fileName, get().train.seqLen + 1, (p) => set({ datasetProgress: p }));
      if (report.examples === 0) {
        // Nothing usable: say why, and keep whatever dataset the user already had.
        const why = report.lines === 0 ? 'The file has no lines.' : `None of its ${report.lines} lines is a valid example.`;
        const first = report.errors.slice(0, 3).map((x) => `line ${x.line}: ${x.error}`).join('; ');
        const kept = get().dataset ? ` The previous dataset (${get().dataset!.fileName}) is kept.` : '';
        set({ datasetError: { title: `${fileName} cannot be used`, message: `${why}${first ? ` ${first}.` : ''}${kept}` } });
      } else set({ dataset: report });
    } catch (e) {
      set({ datasetError: toUiError(`${fileName} cannot be read`, e) });
    } finally {
      set({ datasetBusy: false, datasetProgress: null });
    }
  },
});
