// Held-out loss: the mean masked next-token loss over examples, batched at a fixed [B, T] exactly
// as the trainer evaluates (src/train/trainer.ts evaluate), with or without an adapter. Used by the
// Evaluate view (worker) and `npm run eval` (Node) alike.
import * as tf from '@tensorflow/tfjs';
import type { LlamaModel, LoraHook } from '../model/llama';
import { makeBatch, type TokenizedExample } from '../train/batches';
import { maskedCrossEntropy } from '../train/loss';

export interface LossFigures {
  /** Mean loss per trained token (nats). */
  loss: number;
  /** exp(loss). */
  perplexity: number;
  /** Trained target tokens the mean is over. */
  tokens: number;
}

/** Mean masked loss of `examples` under model (+ lora), B rows of T tokens at a time. NaN when nothing is trained. */
export async function heldOutLoss(model: LlamaModel, lora: LoraHook | null, examples: TokenizedExample[], seqLen: number, batchSize: number): Promise<LossFigures> {
  let weighted = 0;
  let tokens = 0;
  for (let i = 0; i < examples.length; i += batchSize) {
    const rows = examples.slice(i, i + batchSize);
    while (rows.length < batchSize) rows.push({ inputIds: [], lossMask: [] }); // keep [B, T] fixed
    const b = makeBatch(rows, seqLen);
    if (b.tokens === 0) continue;
    const l = tf.tidy(() => {
      const ids = tf.tensor2d(b.inputs, [b.batchSize, b.seqLen], 'int32');
      const logits = model.forward(ids, { lora }); // [B*T, V]
      return maskedCrossEntropy(logits, tf.tensor1d(b.targets, 'int32'), tf.tensor1d(b.weights));
    });
    weighted += (await l.data())[0] * b.tokens;
    l.dispose();
    tokens += b.tokens;
  }
  const loss = tokens > 0 ? weighted / tokens : NaN;
  return { loss, perplexity: Math.exp(loss), tokens };
}
