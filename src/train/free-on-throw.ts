// A gradient computation that throws part-way (the wasm heap or the GPU out of memory mid-step)
// leaves tensors behind: those autograd saved for the backward pass (tfjs keeps them outside every
// tidy scope until the backward frees them, and a thrown backward never does) and the loss itself
// (made in the caller's scope). In a run that pauses and resumes in the same page they would stay
// in backend memory for good. freeOnThrow() records every tensor made while f runs (tfjs-core's
// Engine.trackTensor, 4.x) and, if f throws, disposes those still alive before rethrowing. Nothing
// f makes may be meant to outlive a throw (the model's rope cache rebuilds a disposed entry).
import * as tf from '@tensorflow/tfjs';

interface TrackingEngine {
  trackTensor(t: tf.Tensor, backend: unknown): void;
}

/** f() itself; if it throws, the tensors made during it (and not yet disposed) are disposed first. */
export function freeOnThrow<T>(f: () => T): T {
  const engine = tf.engine() as unknown as TrackingEngine;
  const track = engine.trackTensor;
  const made: tf.Tensor[] = [];
  engine.trackTensor = function (this: TrackingEngine, t: tf.Tensor, backend: unknown) {
    made.push(t);
    track.call(this, t, backend);
  };
  try {
    return f();
  } catch (e) {
    for (const t of made) if (!t.isDisposed) t.dispose();
    throw e;
  } finally {
    engine.trackTensor = track;
  }
}
