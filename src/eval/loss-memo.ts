// Losses Evaluate already knows, so it does not run again a forward pass whose answer is known:
// the trainer's evaluation after its last step is the tuned held-out loss (the same adapter weights,
// examples and sequence length; the batch size changes only memory), and the base model's losses
// stay the same until the model or the examples change. Entries are keyed by object identity (the
// model or the adapter, and the examples array or the text), held weakly, so a model or adapter
// that is replaced takes its entries with it.
import type { LossFigures } from './heldout';

type Examples = object | string;

interface Entry {
  examples: Examples;
  seqLen: number;
  figures: LossFigures;
}

export class LossMemo {
  private bySubject = new WeakMap<object, Entry[]>();

  get(subject: object, examples: Examples, seqLen: number): LossFigures | null {
    return this.bySubject.get(subject)?.find((e) => e.examples === examples && e.seqLen === seqLen)?.figures ?? null;
  }

  set(subject: object, examples: Examples, seqLen: number, figures: LossFigures): void {
    const list = (this.bySubject.get(subject) ?? []).filter((e) => !(e.examples === examples && e.seqLen === seqLen));
    this.bySubject.set(subject, [...list, { examples, seqLen, figures }]);
  }

  /** Drops what is known of `subject` (an adapter about to be trained further). */
  forget(subject: object): void {
    this.bySubject.delete(subject);
  }

  /** The known figures, or `measure()`'s, remembered. */
  async measure(subject: object, examples: Examples, seqLen: number, measure: () => Promise<LossFigures>): Promise<LossFigures> {
    const known = this.get(subject, examples, seqLen);
    if (known) return known;
    const figures = await measure();
    if (Number.isFinite(figures.loss)) this.set(subject, examples, seqLen, figures);
    return figures;
  }
}
