// Export slice: the Use step's "take it anywhere" panel. Picks a format and tensor type, asks the
// worker for the exact file sizes, then streams the export into a folder the user picks (File
// System Access API) or downloads each file as the worker finishes it.
import { downloadBlob } from '../ui/download';
import { NEEDS_ADAPTER } from '../export/formats';
import { requireClient, toUiError, type ExportSlice, type Slice } from './types';

interface DirectoryPickerWindow {
  showDirectoryPicker?: (o: { mode: 'readwrite'; id?: string }) => Promise<FileSystemDirectoryHandle>;
}

export function canPickFolder(): boolean {
  return typeof window !== 'undefined' && typeof (window as DirectoryPickerWindow).showDirectoryPicker === 'function';
}

export const createExportSlice: Slice<ExportSlice> = (set, get) => ({
  exportChoice: { format: 'gguf-adapter', type: 'f16', adapterType: 'f32' },
  exportPlan: null,
  exportProgress: null,
  exportResult: null,
  exportError: null,
  exporting: false,

  setExportChoice(p) {
    set({ exportChoice: { ...get().exportChoice, ...p }, exportPlan: null, exportResult: null, exportError: null });
    void get().planExport();
  },

  async planExport() {
    const choice = get().exportChoice;
    // Nothing to plan (and nothing to complain about) before there is an adapter to export.
    if (!get().model || (NEEDS_ADAPTER[choice.format] && !get().adapter)) {
      set({ exportPlan: null });
      return;
    }
    try {
      const { files } = await requireClient(get).planExport(choice);
      if (get().exportChoice === choice) set({ exportPlan: files, exportError: null });
    } catch (e) {
      if (get().exportChoice === choice) set({ exportPlan: null, exportError: toUiError('This export is not possible', e) });
    }
  },

  async runExport(toFolder) {
    const choice = get().exportChoice;
    let folder: FileSystemDirectoryHandle | null = null;
    try {
      // Ask for the folder first, inside the click: the picker needs the user's gesture.
      if (toFolder) folder = await (window as DirectoryPickerWindow).showDirectoryPicker!({ mode: 'readwrite', id: 'fine-tune-studio-export' });
    } catch {
      return; // the user closed the picker
    }
    set({ exporting: true, exportError: null, exportResult: null, exportProgress: null });
    try {
      const r = await requireClient(get).exportModel(
        choice,
        folder,
        (p) => {
          if (p.task === 'export') set({ exportProgress: { file: p.file, loaded: p.loaded, total: p.total } });
        },
        (name, blob) => downloadBlob(blob, name),
      );
      set({ exportResult: { files: r.files, command: r.command, where: folder ? `the folder "${folder.name}"` : 'your downloads' } });
    } catch (e) {
      set({ exportError: toUiError('The export failed; no partial file was kept', e) });
    } finally {
      set({ exporting: false, exportProgress: null });
    }
  },
});
