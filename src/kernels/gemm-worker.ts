// A helper thread of the GEMM (src/kernels/gemm-pool.ts): instantiates the kernel module on the
// shared wasm heap, then waits on its slot of the control block and computes the columns it is
// given. It blocks in Atomics.wait between products (a dedicated worker may), so it never returns
// to its event loop after the first message.
import { SLOT, SlotField } from './gemm-slots';

interface Start {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  index: number;
}

type Gemm = (...args: number[]) => void;

self.onmessage = (e: MessageEvent<Start>) => {
  const { module, memory, control, index } = e.data;
  const gemm = (new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as { gemm: Gemm }).gemm;
  const ctl = new Int32Array(control);
  const args = new Uint32Array(control);
  const base = index * SLOT;
  let seen = Atomics.load(ctl, base + SlotField.Seq);
  Atomics.store(ctl, base + SlotField.Ready, 1);
  for (;;) {
    Atomics.wait(ctl, base + SlotField.Seq, seen);
    seen = Atomics.load(ctl, base + SlotField.Seq);
    if (seen < 0) return;
    const a = Array.from(args.subarray(base + SlotField.Args, base + SlotField.Args + SlotField.ArgCount));
    try {
      gemm(...a);
      Atomics.store(ctl, base + SlotField.Status, 0);
    } catch {
      Atomics.store(ctl, base + SlotField.Status, 1);
    }
    Atomics.store(ctl, base + SlotField.Done, seen);
    Atomics.notify(ctl, base + SlotField.Done);
  }
};
