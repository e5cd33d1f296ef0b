// Reads typed values out of a config.json object, naming the key in every error. Used by the
// parser (config.ts) and the family table (families.ts) alike.
import { UnsupportedModelError } from './errors';

/** Reads typed values out of one config object, naming the key in every error. */
export class ConfigReader {
  constructor(
    readonly raw: Record<string, unknown>,
    /** transformers' class defaults, used only for keys absent from the file. */
    private readonly defaults: Record<string, unknown>,
  ) {}

  has(key: string): boolean {
    return this.raw[key] !== undefined;
  }

  value(key: string): unknown {
    return this.raw[key] !== undefined ? this.raw[key] : this.defaults[key];
  }

  num(key: string): number {
    const v = this.value(key);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new UnsupportedModelError(`config.json: "${key}" is missing or not a number (found ${JSON.stringify(v)})`);
    return v;
  }

  optNum(key: string): number | null {
    const v = this.value(key);
    if (v == null) return null;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new UnsupportedModelError(`config.json: "${key}" must be a positive number or null, found ${JSON.stringify(v)}`);
    return v;
  }

  bool(key: string): boolean {
    const v = this.value(key) ?? false;
    if (typeof v !== 'boolean') throw new UnsupportedModelError(`config.json: "${key}" must be true or false, found ${JSON.stringify(v)}`);
    return v;
  }

  /** A key whose only supported value is `expected` (or absent). */
  require(key: string, expected: unknown, why: string): void {
    const v = this.value(key);
    if (v != null && v !== expected) throw new UnsupportedModelError(`config.json: "${key}" is ${JSON.stringify(v)}; only ${JSON.stringify(expected)} is supported (${why})`);
  }
}
