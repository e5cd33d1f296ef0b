// The GEMM pool's control block (a SharedArrayBuffer of Int32): one slot of SLOT words per helper.
// Seq is bumped by the caller to hand over a product (-1: stop), Done is set to that Seq by the
// helper when its columns are written, Status is 0 or 1 (the kernel threw), Ready is 1 once the
// helper waits for work (read without an event-loop turn: the caller may be busy for seconds), Args holds the gemm
// export's arguments as unsigned 32-bit words (heap offsets may pass 2^31).
export const SLOT = 32;

export const SlotField = { Seq: 0, Done: 1, Status: 2, Ready: 3, Args: 4, ArgCount: 17 } as const;
