// The new methods on WebGPU (SwiftShader here: correct but slow, so two or three steps each, no
// periodic samples or evaluation): DPO starts at ln 2 and charts its rewards, prefix tuning and full
// fine-tuning train and change the greedy text. The wasm journeys (dpo, soft-prompt, full-finetune
// specs) check the same methods in depth; this one proves they run on the GPU backend at all.
import { fileURLToPath } from 'node:url';
import { test, expect, loadModel, readNumber, openAdvanced, EXAMPLE_DATASET } from './fixtures';

const PREFERENCES = fileURLToPath(new URL('../public/examples/stories-preference.jsonl', import.meta.url));

const CASES = [
  { name: 'DPO (LoRA)', data: PREFERENCES, pick: { objective: 'Preference (DPO)' }, steps: 2, lr: '0.004', seq: '56', changesText: false },
  { name: 'prefix tuning', data: EXAMPLE_DATASET, pick: { method: 'Prefix tuning' }, steps: 2, lr: '0.05', seq: '32', changesText: true },
  { name: 'full fine-tuning', data: EXAMPLE_DATASET, pick: { method: 'Full fine-tuning' }, steps: 3, lr: '0.002', seq: '32', changesText: true },
] as const;

for (const c of CASES) {
  test(`${c.name} trains on WebGPU${'objective' in c.pick ? ', starting at ln 2 and charting its rewards' : ' and changes the greedy text'}`, async ({ page, modelServer }) => {
    test.setTimeout(6 * 60_000);
    await page.goto('/?backend=webgpu');
    await expect(page.getByTestId('backend-name')).toHaveText('WebGPU', { timeout: 60_000 });
    await loadModel(page, modelServer.url);
    await page.getByLabel('Dataset file (JSONL)').setInputFiles(c.data);
    await expect(page.getByLabel('Dataset summary')).toContainText(c.data === PREFERENCES ? 'stories-preference.jsonl' : 'stories-dragon.jsonl');
    if ('objective' in c.pick) await page.getByLabel('Objective', { exact: true }).selectOption({ label: c.pick.objective });
    if ('method' in c.pick) await page.getByLabel('Method', { exact: true }).selectOption({ label: c.pick.method });
    await openAdvanced(page);
    for (const [label, value] of Object.entries({ Steps: String(c.steps), 'Batch size': '2', 'Sequence length': c.seq, 'Learning rate': c.lr, Warmup: '0', 'Evaluate every': '0', 'Samples every': '0' })) await page.getByLabel(label).fill(value);
    await page.getByRole('button', { name: 'Start training' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Training finished' })).toContainText(`after ${c.steps} steps`, { timeout: 5 * 60_000 });
    const first = await readNumber(page, 'train-first-loss');
    expect(Number.isFinite(await readNumber(page, 'train-loss'))).toBe(true);
    if ('objective' in c.pick) {
      expect(first).toBeCloseTo(Math.LN2, 3); // the adapter starts equal to the reference
      await expect(page.getByRole('figure', { name: 'DPO rewards chart' })).toHaveAttribute('data-points', String(c.steps));
      return;
    }
    await page.getByRole('textbox', { name: 'Prompt', exact: true }).fill('Zed');
    await page.getByLabel('New tokens').fill('8');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect(page.getByRole('button', { name: 'Generate' })).toBeEnabled({ timeout: 3 * 60_000 });
    const tuned = (await page.getByLabel('Tuned model output').textContent())!;
    expect(tuned.startsWith('Zed')).toBe(true);
    if (c.changesText) expect(tuned).not.toBe(await page.getByLabel('Base model output').textContent());
  });
}
