// How fast a generation ran, as a person waits for it: the prompt's forward (prefill, until the first
// new token) and the tokens after it (decode), each in tokens per second. Fed from the onToken
// callback, so it measures the same loop the user watches, sampling included.

export interface GenerationSpeed {
  promptTokens: number;
  /** Prompt tokens per second of the first forward (null when no token was produced). */
  prefillTokensPerSecond: number | null;
  newTokens: number;
  /** New tokens after the first, per second (null with fewer than two new tokens). */
  decodeTokensPerSecond: number | null;
}

export class SpeedMeter {
  private readonly startMs: number;
  private firstMs: number | null = null;
  private lastMs: number | null = null;
  private count = 0;

  constructor(
    private readonly promptTokens: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.startMs = now();
  }

  /** Call once per new token, as it arrives. */
  token(): void {
    const t = this.now();
    if (this.firstMs === null) this.firstMs = t;
    this.lastMs = t;
    this.count++;
  }

  result(): GenerationSpeed {
    const perSecond = (n: number, ms: number) => (ms > 0 ? (1000 * n) / ms : null);
    return {
      promptTokens: this.promptTokens,
      prefillTokensPerSecond: this.firstMs === null ? null : perSecond(this.promptTokens, this.firstMs - this.startMs),
      newTokens: this.count,
      decodeTokensPerSecond: this.count < 2 || this.firstMs === null || this.lastMs === null ? null : perSecond(this.count - 1, this.lastMs - this.firstMs),
    };
  }
}
