// The one zustand store of the page, combined from typed slices (one file each). Only the store
// talks to the worker client; components select narrow values and call named actions.
import { create } from 'zustand';
import { createEvalSlice } from './eval-slice';
import { createEngineSlice } from './engine-slice';
import { createModelSlice } from './model-slice';
import { createDatasetSlice } from './dataset-slice';
import { createTrainSlice } from './train-slice';
import { createUseSlice } from './use-slice';
import { createExportSlice } from './export-slice';
import { createFeedbackSlice } from './feedback-slice';
import type { AppState } from './types';

export const useApp = create<AppState>()((...a) => ({
  ...createEngineSlice(...a),
  ...createEvalSlice(...a),
  ...createModelSlice(...a),
  ...createDatasetSlice(...a),
  ...createTrainSlice(...a),
  ...createUseSlice(...a),
  ...createExportSlice(...a),
  ...createFeedbackSlice(...a),
}));
