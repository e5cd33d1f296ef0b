// llama.cpp itself, through node-llama-cpp's prebuilt linux-x64 CPU binary, as the real client of
// our GGUF files: greedy continuation from token ids (so tokenization differences cannot hide a
// weight error), optionally with LoRA adapters, and llama.cpp's own tokenization of a text.
// build: 'never' makes a missing binary an error instead of a download or a cmake build.
import { getLlama, LlamaLogLevel, type Llama } from 'node-llama-cpp';

/**
 * package.json installs only the linux-x64 CPU build (the other prebuilt binaries are stubbed to
 * keep installs small), so llama.cpp runs where CI runs: linux x64. Elsewhere these checks skip.
 */
export const LLAMA_CPP_AVAILABLE = process.platform === 'linux' && process.arch === 'x64';

let llama: Promise<Llama> | null = null;

function instance(): Promise<Llama> {
  llama ??= getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
  return llama;
}

export async function llamaCppGreedy(modelPath: string, promptIds: number[], maxNewTokens: number, loraPaths: string[] = []): Promise<number[]> {
  const l = await instance();
  const model = await l.loadModel({ modelPath });
  try {
    const ctx = await model.createContext({
      contextSize: 256,
      batchSize: 256,
      threads: 1,
      // llama.cpp keeps K/V in F16 by default; F32 makes it compute what our fp32 engine computes.
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
      flashAttention: false,
      lora: loraPaths.length ? { adapters: loraPaths.map((filePath) => ({ filePath, scale: 1 })) } : undefined,
    });
    const out: number[] = [];
    for await (const t of ctx.getSequence().evaluate(promptIds as never, { temperature: 0 })) {
      out.push(t as number);
      if (out.length >= maxNewTokens) break;
    }
    await ctx.dispose();
    return out;
  } finally {
    await model.dispose();
  }
}

export async function llamaCppTokenize(modelPath: string, texts: string[]): Promise<number[][]> {
  const l = await instance();
  const model = await l.loadModel({ modelPath, vocabOnly: true });
  try {
    return texts.map((t) => [...model.tokenize(t)] as number[]);
  } finally {
    await model.dispose();
  }
}

/**
 * llama.cpp's raw next-token logits after each position of `ids` (teacher-forced, one pass): for
 * comparing two files of the same model with a tolerance where greedy tokens would be too brittle.
 */
export async function llamaCppLogits(modelPath: string, ids: number[]): Promise<Float32Array[]> {
  const l = await instance();
  const model = await l.loadModel({ modelPath });
  try {
    const ctx = await model.createContext({ contextSize: 256, batchSize: 256, threads: 1, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32', flashAttention: false });
    const out = await ctx.getSequence().controlledEvaluate(ids.map((t) => [t, { generateNext: { logits: true } }] as never));
    await ctx.dispose();
    return out.map((o) => {
      const m = o!.next.logits!;
      const row = new Float32Array(m.size); // every token of the vocabulary, ordered by logit
      for (const [t, v] of m) row[t as number] = v;
      return row;
    });
  } finally {
    await model.dispose();
  }
}
