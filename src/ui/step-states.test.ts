// The step bar's states as a table: what each step says in each situation of the flow.
import { describe, expect, it } from 'vitest';
import { stepStates, type StepInputs } from './step-states';
import { toCsv } from './chart-export';

const NONE: StepInputs = { model: null, modelBusy: false, dataset: null, datasetBusy: false, training: false, adapter: null, preflightBlocked: false, evaluated: false };
const MODEL = { architecture: 'LlamaForCausalLM' };
const DATA = { examples: 50, fileName: 'x.jsonl' };

const TABLE: [string, Partial<StepInputs>, string][] = [
  ['a fresh page', {}, 'model next: pick a model | dataset blocked: needs a model | train blocked: needs a dataset | use blocked: needs a model'],
  ['model loading', { modelBusy: true }, 'model running: loading… | dataset blocked: needs a model | train blocked: needs a dataset | use blocked: needs a model'],
  ['model loaded', { model: MODEL }, 'model done: Llama | dataset next: add a dataset file | train blocked: needs a dataset | use blocked: needs an adapter'],
  ['dataset with no usable example', { model: MODEL, dataset: { examples: 0, fileName: 'x' } }, 'model done: Llama | dataset next: no usable example yet | train blocked: needs a dataset | use blocked: needs an adapter'],
  ['dataset loaded', { model: MODEL, dataset: DATA }, 'model done: Llama | dataset done: 50 examples | train next: start training | use blocked: needs an adapter'],
  ['serious findings', { model: MODEL, dataset: DATA, preflightBlocked: true }, 'model done: Llama | dataset done: 50 examples | train blocked: review the serious findings | use blocked: needs an adapter'],
  ['training', { model: MODEL, dataset: DATA, training: true }, 'model done: Llama | dataset done: 50 examples | train running: training… | use blocked: needs an adapter'],
  ['trained', { model: MODEL, dataset: DATA, adapter: {} }, 'model done: Llama | dataset done: 50 examples | train done: adapter ready | use next: compare, download, share'],
  ['trained and evaluated', { model: MODEL, dataset: DATA, adapter: {}, evaluated: true }, 'model done: Llama | dataset done: 50 examples | train done: trained and evaluated | use next: compare, download, share'],
];

describe('step states', () => {
  for (const [name, x, want] of TABLE) {
    it(name, () => {
      const s = stepStates({ ...NONE, ...x });
      expect((['model', 'dataset', 'train', 'use'] as const).map((k) => `${k} ${s[k].status}: ${s[k].why}`).join(' | ')).toBe(want);
    });
  }
});

describe('chart CSV', () => {
  it('one row per x, empty cells for missing points, quoted headers when needed', () => {
    expect(toCsv(['step', 'loss, smoothed'], [[1, 2, 3], [0.5, null, 0.25]])).toBe('step,"loss, smoothed"\n1,0.5\n2,\n3,0.25\n');
  });
});
