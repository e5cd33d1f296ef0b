// Bad input in the browser, each with a clear message, and the app keeps what it already had:
// an unreachable model URL, an unsupported architecture, share links that are tampered with,
// truncated or made for other weights. Runs on wasm (the errors do not depend on the backend).
import { mkdtemp, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, expect, loadModel, STORIES_DIR } from './fixtures';
import { startModelServer } from './model-server';
import { encodeShareLink } from '../src/adapters/share-link';
import { syntheticLoraWeights } from '../src/adapters/synthetic-adapter';
import { parseConfig } from '../src/model/config';
import { modelFingerprint } from '../src/model/fingerprint';
import { bufferSource } from '../src/model/safetensors';
import type { LoraSpec } from '../src/adapters/lora-types';

async function storiesLink(pageUrl: string, modelUrl: string, fingerprint?: string): Promise<string> {
  const configText = await readFile(path.join(STORIES_DIR, 'config.json'), 'utf8');
  const weights = new Uint8Array(await readFile(path.join(STORIES_DIR, 'model.safetensors')));
  const fp = fingerprint ?? (await modelFingerprint(configText, [{ name: 'model.safetensors', bytes: bufferSource(weights) }]));
  const spec: LoraSpec = { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false, baseModel: modelUrl };
  return encodeShareLink(pageUrl, { model: { source: modelUrl, fingerprint: fp }, spec, weights: syntheticLoraWeights(parseConfig(JSON.parse(configText)), spec, 5, 0.05) });
}

test.describe('bad input', () => {
  test('an unreachable model URL and an unsupported architecture get clear messages; the loaded model stays', async ({ page, modelServer }) => {
    await page.goto('/?backend=wasm');
    await expect(page.getByTestId('backend-name')).toHaveText('WebAssembly', { timeout: 60_000 });
    await loadModel(page, modelServer.url);

    await page.getByLabel('Model URL or Hugging Face repo').fill('http://127.0.0.1:9/nothing-here');
    await page.getByRole('button', { name: 'Load model' }).click();
    await expect(page.getByRole('alert')).toContainText('Could not load http://127.0.0.1:9/nothing-here');
    await expect(page.getByRole('alert')).toContainText(/reach/i);
    await expect(page.getByLabel('Loaded model')).toContainText(modelServer.url);

    const dir = await mkdtemp(path.join(tmpdir(), 'gpt2-'));
    await writeFile(path.join(dir, 'config.json'), JSON.stringify({ architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', n_embd: 64 }));
    const gpt2 = await startModelServer({ root: dir });
    try {
      await page.getByLabel('Model URL or Hugging Face repo').fill(gpt2.url);
      await page.getByRole('button', { name: 'Load model' }).click();
      await expect(page.getByRole('alert')).toContainText('Unsupported model architecture "GPT2LMHeadModel"');
      await expect(page.getByRole('alert')).toContainText('LlamaForCausalLM');
    } finally {
      await gpt2.close();
    }
    // Still usable: generation on the model that was loaded before.
    await page.getByRole('textbox', { name: 'Prompt', exact: true }).fill('Once upon a time');
    await page.getByLabel('New tokens').fill('8'); // reference ids 432 383 286 261 376 298 315 421
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect(page.getByLabel('Base model output')).toHaveText('Once upon a time, there was a little girl', { timeout: 60_000 });
  });

  test('a valid share link opens; tampered, truncated and wrong-weights links are refused with a reason', async ({ page, modelServer, baseURL }) => {
    const good = await storiesLink(`${baseURL}/?backend=wasm`, modelServer.url);
    await page.goto(good);
    await expect(page.getByLabel('Adapter', { exact: true })).toContainText('Shared adapter: rank 4', { timeout: 60_000 });

    const hashAt = good.indexOf('#adapter=') + '#adapter='.length;
    const mid = hashAt + Math.floor((good.length - hashAt) / 2);
    const tampered = good.slice(0, mid) + (good[mid] === 'A' ? 'B' : 'A') + good.slice(mid + 1);
    const truncated = good.slice(0, good.length - 40);
    const wrongWeights = await storiesLink(`${baseURL}/?backend=wasm`, modelServer.url, '0123456789abcdef');
    for (const [link, why] of [
      [tampered, /truncated or corrupted/],
      [truncated, /truncated or corrupted/],
      [wrongWeights, /different version/],
    ] as const) {
      const p = await page.context().newPage();
      await p.goto(link);
      const alert = p.getByRole('alert');
      await expect(alert).toContainText('This share link could not be opened', { timeout: 60_000 });
      await expect(alert).toContainText(why);
      await expect(p.getByLabel('Adapter', { exact: true })).toHaveCount(0);
      // The page keeps working: the model can still be loaded by hand.
      await loadModel(p, modelServer.url);
      await p.close();
    }
  });
});
