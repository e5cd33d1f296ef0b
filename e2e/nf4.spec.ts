// NF4 base in the app, on WebGPU (SwiftShader here): choose "NF4 4-bit" as the base precision,
// load stories260K, see the memory of both precisions and the fused WGSL path in use, train a
// couple of LoRA steps through the fused kernels, then reload: the quantized base comes from
// IndexedDB instead of being quantized again. Kept short: SwiftShader is slow. Without a fixed
// kernel, the page times fused (at three tile sizes) against dequantize-then-matmul once, uses the fastest, shows the
// timing (flagged as a software adapter's here) and reads it from IndexedDB on the next load.
import { test, expect, loadModel, openAdvanced, readNumber, EXAMPLE_DATASET } from './fixtures';

const STEPS = 6;

test('NF4 base chosen in the UI loads, trains on WebGPU through the fused kernels, and is cached', async ({ page, modelServer }) => {
  test.setTimeout(8 * 60_000);
  // The fused kernels fixed (?nf4-kernel): this journey checks them, whatever SwiftShader would measure.
  await page.goto('/?backend=webgpu&nf4-kernel=fused');
  await expect(page.getByTestId('backend-name')).toHaveText('WebGPU', { timeout: 60_000 });

  await page.getByLabel('Base precision').selectOption({ label: 'NF4 4-bit' });
  await loadModel(page, modelServer.url);
  const memory = page.getByLabel('Base memory');
  await expect(page.getByTestId('base-precision')).toHaveText('NF4 4-bit');
  await expect(page.getByTestId('linear-path')).toHaveText('fused NF4 WGSL kernels');
  // stories260K: 885 KB of linear weights in fp32, 124 KB as NF4; 133 KB of embeddings and norms.
  await expect(memory).toContainText('linear layers 885 KB → 124 KB');
  await expect(memory).toContainText('35 layers quantized now and cached');

  await page.getByLabel('Dataset file (JSONL)').setInputFiles(EXAMPLE_DATASET);
  await expect(page.getByLabel('Dataset summary')).toContainText('stories-dragon.jsonl');
  await openAdvanced(page);
  await page.getByLabel('Steps').fill(String(STEPS));
  await page.getByLabel('Batch size').fill('4');
  await page.getByLabel('Sequence length').fill('48');
  await page.getByLabel('Learning rate').fill('0.01');
  await page.getByRole('button', { name: 'Start training' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Training finished' })).toContainText(`after ${STEPS} steps`, { timeout: 6 * 60_000 });
  const first = await readNumber(page, 'train-first-loss');
  const last = await readNumber(page, 'train-loss');
  expect(Number.isFinite(first) && Number.isFinite(last)).toBe(true);
  expect(last).toBeLessThan(first);

  // The choice is remembered, and the second load reads the quantized projections from IndexedDB.
  await page.reload();
  await expect(page.getByLabel('Base precision')).toHaveValue('nf4');
  await expect(page.getByLabel('Base memory')).toContainText('35 layers from the quantized cache', { timeout: 120_000 });
  await expect(page.getByTestId('linear-path')).toHaveText('fused NF4 WGSL kernels');
});

test('WebGPU picks its NF4 kernel and its attention by measurement, shows the timings, and caches them per adapter', async ({ page, modelServer }) => {
  test.setTimeout(4 * 60_000);
  await page.goto('/?backend=webgpu');
  await expect(page.getByTestId('backend-name')).toHaveText('WebGPU', { timeout: 60_000 });
  await page.getByLabel('Base precision').selectOption({ label: 'NF4 4-bit' });
  await loadModel(page, modelServer.url);
  const line = page.getByTestId('nf4-variant');
  await expect(line).toContainText('measured now');
  // SwiftShader decides what this page runs, never a claim: the line says so.
  await expect(line).toContainText('a software adapter: these are not GPU figures');
  const text = (await line.textContent())!;
  const [, fusedMs, unfusedMs] = /([\d.]+) ms fused vs ([\d.]+) ms dequantize-then-matmul/.exec(text)!;
  const fasterFused = Number(fusedMs) <= Number(unfusedMs);
  // The fused kernel is timed at three output tiles; "fused" is its fastest, and names the tile used.
  const tiles = [...text.matchAll(/(\d+)×\d+ ([\d.]+) ms/g)].map((m) => ({ tile: m[1], ms: Number(m[2]) }));
  expect(tiles.map((t) => t.tile)).toEqual(['16', '32', '64']);
  const fastestMs = Math.min(...tiles.map((t) => t.ms));
  expect(fastestMs.toFixed(1)).toBe(fusedMs);
  if (fasterFused) {
    const named = /NF4 kernel: fused NF4 kernel with (\d+)×\1 tiles/.exec(text);
    expect(named, text).not.toBeNull();
    expect(tiles.find((t) => t.tile === named![1])!.ms).toBe(fastestMs); // the tile used is the fastest (as shown, to 0.1 ms)
  } else {
    expect(text).toContain('NF4 kernel: dequantize-then-matmul,');
  }
  // The layers run the kernel chosen.
  await expect(page.getByTestId('linear-path')).toHaveText(fasterFused ? 'fused NF4 WGSL kernels' : 'NF4 decoded on the GPU, then matmul');
  // The attention path is chosen the same way: dense or flash at three tile sizes, the fastest named.
  const attention = page.getByTestId('attention-variant');
  await expect(attention).toContainText('measured now');
  await expect(attention).toContainText('a software adapter: these are not GPU figures');
  const aText = (await attention.textContent())!;
  const times = [...aText.matchAll(/(dense|flash \d+×\d+) ([\d.]+) ms/g)].map((m) => ({ name: m[1], ms: Number(m[2]) }));
  expect(times.map((t) => t.name)).toEqual(['dense', 'flash 16×16', 'flash 32×32', 'flash 64×64']);
  const fastest = times.reduce((a, t) => (t.ms < a.ms ? t : a));
  expect(aText).toContain(fastest.name === 'dense' ? 'Attention: dense scores' : `Attention: flash kernels, ${fastest.name.slice(6)} tiles`);
  await page.reload();
  await expect(page.getByTestId('nf4-variant')).toContainText('measured on an earlier visit', { timeout: 120_000 });
  await expect(page.getByTestId('nf4-variant')).toContainText(`${fusedMs} ms fused vs ${unfusedMs} ms`);
  await expect(page.getByTestId('attention-variant')).toContainText('measured on an earlier visit');
});
