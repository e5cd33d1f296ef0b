// Supervised fine-tuning: masked next-token cross-entropy on the answer tokens. The LoRA path walks
// the decoder layer by layer (so layers can be recomputed in the backward pass) and ends in the
// chunked cross-entropy fused with the head; soft prompts and full fine-tuning run the whole forward.
import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from '../../model/llama';
import { LoraAdapter } from '../lora';
import { adaptedLogits } from '../trainable';
import { maskedCrossEntropy } from '../loss';
import { fusedCrossEntropy } from '../fused-cross-entropy';
import { recomputedStack, recomputeSkipsLastProduct, type RecomputedBlock } from '../recompute';
import { lossBatches, makeBatch, paddedLength, type Batch, type TokenizedExample } from '../batches';
import type { MicroBatchLoss, ObjectiveContext, ObjectiveFigures, ObjectiveRoom } from './objective';

/** The model's final logit soft-cap (Gemma), 0 when it has none. */
function headSoftcap(m: LlamaModel): number {
  return m.config.finalSoftcap ?? 0;
}

/**
 * The loss of one batch as a function for tf.variableGrads / tf.tidy, and the tensors it shares
 * across layers (masks, rope tables), made outside it: a recomputed layer reads them again in the
 * backward pass, after the forward's tidy has ended. The caller disposes `shared`.
 */
export function sftLossFn(ctx: ObjectiveContext, b: Batch, recompute: boolean | number = ctx.recompute): { f: () => tf.Scalar; shared: tf.Tensor[] } {
  const m = ctx.model;
  const adapter = ctx.adapter;
  if (!(adapter instanceof LoraAdapter)) {
    // A soft prompt changes the sequence itself (virtual tokens or per-layer prefixes), and full
    // fine-tuning trains the head the fused loss treats as frozen: the whole forward with the
    // adapter applied, then the plain masked loss.
    const f = () => {
      const ids = tf.tensor2d(b.inputs, [b.batchSize, b.seqLen], 'int32');
      return maskedCrossEntropy(adaptedLogits(m, ids, adapter, b.packing), tf.tensor1d(b.targets, 'int32'), tf.tensor1d(b.weights)); // logits [B*T, V]
    };
    return { f, shared: [] };
  }
  const { batchSize: B, seqLen: T } = b;
  const lctx = m.layerContext(B, T, { lora: adapter, packing: b.packing });
  const masks = Object.values(lctx.mask) as tf.Tensor[];
  const ropes = Object.values(lctx.rope).flatMap((r) => [r.cos, r.sin]);
  for (const t of [...masks, ...ropes]) tf.keep(t);
  const shared = b.packing ? [...masks, ...ropes] : masks; // unpacked rope tables belong to the model's cache
  const random = { get: () => adapter.dropoutSeed, set: (s: number) => adapter.setDropoutSeed(s) };
  const f = () => {
    const ids = tf.tensor2d(b.inputs, [B, T], 'int32');
    let x = m.embed(ids).reshape([B * T, m.config.hiddenSize]) as tf.Tensor2D; // [B*T, C]
    // The first n layers recomputed in the backward, as one node that frees as it goes; the rest plain.
    const n = recompute === true ? m.config.numLayers : Math.min(m.config.numLayers, Number(recompute));
    const blocks: RecomputedBlock[] = [];
    for (let i = 0; i < n; i++) {
      const vjp = recomputeSkipsLastProduct() && m.hasLayerVjp(i) ? (xi: tf.Tensor2D, dy: tf.Tensor2D) => m.layerVjp(i, xi, lctx, dy) : undefined;
      blocks.push({ fn: (xi) => m.layerForward(i, xi, lctx), vars: adapter.layerVariables(i), vjp });
    }
    if (n > 0) x = recomputedStack(blocks, random)(x);
    for (let i = n; i < m.config.numLayers; i++) x = m.layerForward(i, x, lctx);
    const h = m.finalNorm(x); // [B*T, C]
    if ((ctx.settings.loss ?? 'fused') === 'fused') return fusedCrossEntropy(h, m.head, b.targets, b.weights, { softcap: headSoftcap(m) });
    return maskedCrossEntropy(m.logitsFrom(h), tf.tensor1d(b.targets, 'int32'), tf.tensor1d(b.weights)); // logits [B*T, V]
  };
  return { f, shared };
}

export class SftObjective implements ObjectiveRoom {
  readonly perplexity = true;
  constructor(private readonly ctx: ObjectiveContext) {}

  /** Rows rated bad (label false, a KTO set) would be learned as answers: refused, with the way out. */
  check(train: TokenizedExample[], validation: TokenizedExample[]): void {
    const bad = [...train, ...validation].filter((e) => e.label === false);
    if (bad.length === 0) return;
    const lines = bad.flatMap((e) => (e.line === undefined ? [] : [e.line])).slice(0, 5);
    const where = lines.length > 0 ? `, e.g. line${lines.length === 1 ? '' : 's'} ${lines.join(', ')}` : '';
    throw new Error(
      `${bad.length} row${bad.length === 1 ? ' is' : 's are'} labelled false (undesirable answers${where}): ` +
        'supervised training would learn them. Train with the KTO objective, which reads the labels, or remove those rows.',
    );
  }

  async microBatch(rows: TokenizedExample[]): Promise<MicroBatchLoss> {
    const batch = makeBatch(rows, paddedLength(rows, this.ctx.settings.seqLen));
    const { f, shared } = sftLossFn(this.ctx, batch);
    return { f, dispose: () => tf.dispose(shared), rows: rows.length, positions: rows.length * batch.seqLen };
  }

  async stepFigures(): Promise<ObjectiveFigures> {
    return {};
  }

  /** Mean masked loss over `examples` (token-weighted), without gradients. */
  async evaluate(examples: TokenizedExample[]): Promise<{ loss: number }> {
    if (examples.length === 0) return { loss: NaN };
    let weighted = 0;
    let tokens = 0;
    for (const batch of lossBatches(examples, this.ctx.settings.seqLen, this.ctx.settings.batchSize)) {
      const { f, shared } = sftLossFn(this.ctx, batch, false);
      const l = tf.tidy(f);
      tf.dispose(shared);
      weighted += (await l.data())[0] * batch.tokens;
      l.dispose();
      tokens += batch.tokens;
    }
    return { loss: tokens > 0 ? weighted / tokens : NaN };
  }

  divergenceReference(first: number): number {
    return first;
  }
}
