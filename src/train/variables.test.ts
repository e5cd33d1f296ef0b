// Disposing an adapter frees everything creating it made: LoRA pairs and soft prompts are built with
// variableFrom, so no starting tensor is left holding a buffer (21 were, on stories260K, before).
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initNodeBackend, openModelFiles } from '../../cli/node-runtime';
import { loadModelWithReport } from '../model/load';
import { LoraAdapter } from './lora';
import { SoftPromptAdapter } from './soft-prompt';
import { STORIES } from '../../tests/stories-fixture';

describe('adapter variables', () => {
  it('creating and disposing a LoRA adapter and a soft prompt leaves no tensor behind', async () => {
    await initNodeBackend('wasm');
    const { model } = await loadModelWithReport(await openModelFiles(STORIES), { precision: 'fp32' });
    const before = tf.memory().numTensors;
    const lora = LoraAdapter.create(model.config, { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false, baseModel: 'stories260K' }, 1);
    expect(tf.memory().numTensors).toBe(before + 20); // 5 layers x 2 projections x (A, B)
    lora.dispose();
    const prompt = SoftPromptAdapter.create(model, { kind: 'prompt-tuning', numVirtualTokens: 4, init: 'random', initText: null, baseModel: 'stories260K' }, 1);
    prompt.dispose();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
