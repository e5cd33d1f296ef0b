// Held-out loss: the mean masked next-token loss over examples, batched as the trainer evaluates
// (train/batches.ts lossBatches: no padding rows, each batch as long as its longest row), with or
// without an adapter. Used by the Evaluate view (worker) and `npm run eval` (Node) alike.
import * as tf from '@tensorflow/tfjs';
import type { LlamaModel, LoraHook } from '../model/llama';
import { lossBatches, type TokenizedExample } from '../train/batches';
import { fusedCrossEntropy } from '../train/fused-cross-entropy';

export interface LossFigures {
  /** Mean loss per trained token (nats). */
  loss: number;
  /** exp(loss). */
  perplexity: number;
  /** Trained target tokens the mean is over. */
  tokens: number;
}

/** Mean masked loss of `examples` under model (+ lora), up to B rows of up to T tokens at a time. NaN when nothing is trained. */
export async function heldOutLoss(model: LlamaModel, lora: LoraHook | null, examples: TokenizedExample[], seqLen: number, batchSize: number): Promise<LossFigures> {
  let weighted = 0;
  let tokens = 0;
  for (const b of lossBatches(examples, seqLen, batchSize)) {
    const l = tf.tidy(() => {
      const ids = tf.tensor2d(b.inputs, [b.batchSize, b.seqLen], 'int32');
      const h = model.forwardHidden(ids, { lora, packing: b.packing }); // [B*T, C]; packed rows attend within their example
      // The head fused with the loss, in chunks, as training evaluates: never the whole [B*T, V] logits
      // (800 MB at 4 x 1,024 with a 49,152-token vocabulary).
      return fusedCrossEntropy(h, model.head, b.targets, b.weights, { softcap: model.config.finalSoftcap ?? 0 });
    });
    weighted += (await l.data())[0] * b.tokens;
    l.dispose();
    tokens += b.tokens;
  }
  const loss = tokens > 0 ? weighted / tokens : NaN;
  return { loss, perplexity: Math.exp(loss), tokens };
}
