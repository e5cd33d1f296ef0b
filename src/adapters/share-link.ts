// Share links: the adapter travels in the URL fragment (#adapter=...), which browsers never send to a
// server. The fragment is base64url of a small framed binary: magic, format version, payload length,
// CRC32, then the deflated payload (a JSON header with the base model's identity and the LoRA spec,
// followed by the adapter's safetensors bytes, so float32 values round-trip bit for bit).
// A link is untrusted input: its size is bounded before and during inflation, its checksum is
// verified, and the adapter inside goes through the same validation as a downloaded PEFT adapter.
import { Inflate, deflateSync } from 'fflate';
import type { LlamaConfig } from '../model/config';
import type { LoraSpec, LoraWeights } from './lora-types';
import { AdapterFormatError, readPeftSafetensors, toPeftFiles, validateLoraSpec } from './peft';
import { bufferSource, readHeader, readTensorF32, writeSafetensors } from '../model/safetensors';
import { PROMPT_EMBEDDINGS_KEY } from './peft-prompt';
import { softPromptWidth, type SoftPromptSpec, type SoftPromptWeights } from './soft-prompt-types';

/** What a link carries: a LoRA adapter, or (header field "soft") a prompt- or prefix-tuning soft prompt. */
export type SharePayload = LoraSharePayload | SoftPromptSharePayload;

export interface SoftPromptSharePayload {
  model: LoraSharePayload['model'];
  soft: SoftPromptSpec;
  /** prompt_embeddings [N, W], carried as a one-tensor safetensors file like the LoRA matrices. */
  softWeights: SoftPromptWeights;
}

export interface LoraSharePayload {
  /**
   * Which base model the adapter belongs to: hub repo id or base URL, modelFingerprint() of its
   * weights, and the precision its frozen base was trained in (an NF4 base computes different logits
   * than fp32, so the receiver loads the same one to reproduce the same greedy text).
   */
  model: { source: string; fingerprint: string; basePrecision?: 'fp32' | 'nf4' };
  spec: LoraSpec;
  weights: LoraWeights;
}

export class ShareLinkError extends Error {
  override name = 'ShareLinkError';
}

/** The adapter is too large to travel in a URL: share the downloaded files instead. */
export class ShareLinkTooLargeError extends ShareLinkError {
  override name = 'ShareLinkTooLargeError';
}

/** The format this code writes and the only one it reads. Bump it when the frame or payload layout changes. */
export const SHARE_FORMAT_VERSION = 1;

/**
 * Longest URL we produce or accept, in characters. Chromium refuses URLs over 2 MiB (2,097,152 chars);
 * Firefox and Safari accept more. Staying under Chromium's limit keeps links openable everywhere.
 */
export const MAX_SHARE_URL_CHARS = 2_000_000;

/** Largest payload a link may inflate to: bounds memory against a crafted link (a "zip bomb"). */
export const MAX_DECODED_BYTES = 8 * 1024 * 1024;

/** Largest JSON header in the payload (model identity + spec are a few hundred bytes). */
const MAX_HEADER_JSON_BYTES = 64 * 1024;

const FRAGMENT_KEY = 'adapter';
const MAGIC = [0x4c, 0x41]; // "LA"
const FRAME_HEADER_BYTES = 12; // magic (2) + version (1) + reserved (1) + payload length u32 + CRC32 u32
/** Compressed bytes handed to the inflater at a time: deflate expands at most ~1032x, so one push stays < 17 MB. */
const INFLATE_CHUNK_BYTES = 16 * 1024;

const corrupted = (detail: string): ShareLinkError => new ShareLinkError(`This share link is truncated or corrupted: ${detail}. Ask for the link again, or for the adapter files.`);

// ---------------------------------------------------------------------------------------------
// Encoding

/** The page URL with `#adapter=...` carrying the payload. Throws ShareLinkTooLargeError past MAX_SHARE_URL_CHARS. */
export function encodeShareLink(pageUrl: string, payload: SharePayload): string {
  const base = pageUrl.split('#')[0]!;
  const link = `${base}#${FRAGMENT_KEY}=${base64UrlEncode(encodeShareFrame(payload))}`;
  if (!shareLinkFitsInUrl(link.length)) {
    throw new ShareLinkTooLargeError(
      `This adapter is too large for a share link: the link would be ${link.length.toLocaleString('en-US')} characters, ` +
      `over the ${MAX_SHARE_URL_CHARS.toLocaleString('en-US')} that browsers accept. Download the adapter and share the files, ` +
      'or train with a lower rank or fewer target modules.',
    );
  }
  return link;
}

/** Whether a URL of this many characters can be opened by every major browser. */
export function shareLinkFitsInUrl(urlChars: number): boolean {
  return urlChars <= MAX_SHARE_URL_CHARS;
}

/** The binary frame inside the fragment (before base64url). Exposed for size measurements and tests. */
export function encodeShareFrame(payload: SharePayload): Uint8Array {
  const soft = 'soft' in payload ? payload : null;
  const adapterSafetensors = soft
    ? writeSafetensors([{ name: PROMPT_EMBEDDINGS_KEY, shape: [soft.soft.numVirtualTokens, soft.softWeights.values.length / soft.soft.numVirtualTokens], data: soft.softWeights.values }], { format: 'pt' })
    : toPeftFiles((payload as LoraSharePayload).spec, (payload as LoraSharePayload).weights).adapterSafetensors;
  const header = new TextEncoder().encode(JSON.stringify(soft ? { model: payload.model, soft: soft.soft } : { model: payload.model, spec: (payload as LoraSharePayload).spec }));
  const body = new Uint8Array(4 + header.length + adapterSafetensors.length);
  new DataView(body.buffer).setUint32(0, header.length, true);
  body.set(header, 4);
  body.set(adapterSafetensors, 4 + header.length);
  if (body.length > MAX_DECODED_BYTES) {
    throw new ShareLinkTooLargeError(
      `This adapter is too large for a share link: ${body.length.toLocaleString('en-US')} bytes, over the ` +
      `${MAX_DECODED_BYTES.toLocaleString('en-US')} a link may carry. Download the adapter and share the files instead.`,
    );
  }
  const frame = new Uint8Array(FRAME_HEADER_BYTES);
  frame.set(MAGIC, 0);
  frame[2] = SHARE_FORMAT_VERSION;
  const view = new DataView(frame.buffer);
  view.setUint32(4, body.length, true);
  view.setUint32(8, crc32(body, crc32(frame.subarray(0, 8))), true);
  const compressed = deflateSync(body, { level: 9 });
  const out = new Uint8Array(FRAME_HEADER_BYTES + compressed.length);
  out.set(frame, 0);
  out.set(compressed, FRAME_HEADER_BYTES);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Hosted adapters: for adapters too large for a URL, the link names where the PEFT files are
// (a folder URL or a Hugging Face repo id) instead of carrying them.

const HOSTED_KEY = 'adapter-url';

/** A link that opens the PEFT adapter hosted at `adapterLocation` (folder URL or hub repo id). */
export function encodeHostedAdapterLink(pageUrl: string, adapterLocation: string): string {
  const where = adapterLocation.trim();
  if (!where) throw new ShareLinkError('Enter where the adapter files are: a folder URL or a Hugging Face repo id.');
  return `${pageUrl.split('#')[0]!}#${HOSTED_KEY}=${encodeURIComponent(where)}`;
}

/** The hosted adapter's location when the fragment is a hosted-adapter link, else null. */
export function hostedAdapterLocation(hash: string): string | null {
  const fragment = hash.includes('#') ? hash.slice(hash.indexOf('#') + 1) : hash;
  const param = fragment.split('&').find((p) => p.startsWith(`${HOSTED_KEY}=`));
  if (param === undefined) return null;
  let where: string;
  try {
    where = decodeURIComponent(param.slice(HOSTED_KEY.length + 1)).trim();
  } catch {
    throw corrupted('the hosted adapter address in it is not valid URL encoding');
  }
  if (!where) throw corrupted('the hosted adapter address in it is empty');
  return where;
}

// ---------------------------------------------------------------------------------------------
// Decoding

/**
 * Reads the adapter out of a location.hash (with or without '#'; a whole URL works too). With `model`,
 * the adapter's shapes are also checked against that base model. Every failure is a ShareLinkError
 * whose message can be shown to the user as is.
 */
export async function decodeShareFragment(hash: string, model?: LlamaConfig): Promise<SharePayload> {
  const fragment = hash.includes('#') ? hash.slice(hash.indexOf('#') + 1) : hash;
  const param = fragment.split('&').find((p) => p.startsWith(`${FRAGMENT_KEY}=`));
  if (param === undefined) {
    throw new ShareLinkError(`This page address holds no shared adapter (expected "#${FRAGMENT_KEY}=..." at its end).`);
  }
  const text = param.slice(FRAGMENT_KEY.length + 1).replace(/\s+/g, ''); // mail clients wrap long links
  if (text.length === 0) throw corrupted('the adapter part of the address is empty');
  if (text.length > MAX_SHARE_URL_CHARS) {
    throw new ShareLinkError(`This share link is too large to open: ${text.length.toLocaleString('en-US')} characters, over the ${MAX_SHARE_URL_CHARS.toLocaleString('en-US')} accepted.`);
  }
  const frame = base64UrlDecode(text);
  return decodeShareFrame(frame, model);
}

export async function decodeShareFrame(frame: Uint8Array, model?: LlamaConfig): Promise<SharePayload> {
  if (frame.length < FRAME_HEADER_BYTES) throw corrupted(`${frame.length} bytes is shorter than the ${FRAME_HEADER_BYTES}-byte frame header`);
  if (frame[0] !== MAGIC[0] || frame[1] !== MAGIC[1]) throw corrupted('it does not start with the share-link marker');
  const version = frame[2]!;
  if (version !== SHARE_FORMAT_VERSION) {
    throw new ShareLinkError(
      `This share link uses format version ${version}, but this page reads version ${SHARE_FORMAT_VERSION} only. ` +
      'Open it with the version of the app that made it, or ask for the adapter files.',
    );
  }
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const length = view.getUint32(4, true);
  const expectedCrc = view.getUint32(8, true);
  if (length > MAX_DECODED_BYTES) {
    throw new ShareLinkError(`This share link is too large to open: it declares ${length.toLocaleString('en-US')} bytes, over the ${MAX_DECODED_BYTES.toLocaleString('en-US')} accepted.`);
  }
  const body = boundedInflate(frame.subarray(FRAME_HEADER_BYTES), length);
  if (crc32(body, crc32(frame.subarray(0, 8))) !== expectedCrc) throw corrupted('its checksum does not match its contents');

  // Checksummed from here on: a failure below means a link made by faulty software, not a damaged one.
  const headerLen = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0, true);
  if (headerLen > MAX_HEADER_JSON_BYTES || 4 + headerLen > body.length) throw invalid(`header length ${headerLen} does not fit in ${body.length} bytes`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body.subarray(4, 4 + headerLen)));
  } catch (e) {
    throw invalid(`its header is not valid JSON (${(e as Error).message})`);
  }
  const h = (typeof header === 'object' && header !== null ? header : {}) as { model?: { source?: unknown; fingerprint?: unknown; basePrecision?: unknown }; spec?: unknown; soft?: unknown };
  if (typeof h.model?.source !== 'string' || typeof h.model.fingerprint !== 'string') {
    throw invalid('its header does not name the base model (model.source and model.fingerprint)');
  }
  try {
    const bp = h.model.basePrecision;
    if (bp !== undefined && bp !== 'fp32' && bp !== 'nf4') throw invalid(`its base precision ${JSON.stringify(bp)} is not fp32 or nf4`);
    const base: LoraSharePayload['model'] = { source: h.model.source, fingerprint: h.model.fingerprint, ...(bp ? { basePrecision: bp as 'fp32' | 'nf4' } : {}) };
    if (h.soft !== undefined) {
      const soft = validateSoftPromptSpec(h.soft);
      return { model: base, soft, softWeights: await readSoftPrompt(soft, body.subarray(4 + headerLen), model) };
    }
    const spec = validateLoraSpec(h.spec, 'share link spec');
    const weights = await readPeftSafetensors(spec, body.subarray(4 + headerLen), model, 'shared adapter');
    return { model: base, spec, weights };
  } catch (e) {
    if (e instanceof AdapterFormatError) throw invalid(e.message);
    throw e;
  }
}

/** A soft-prompt spec from a link header (untrusted): throws AdapterFormatError naming the field. */
function validateSoftPromptSpec(v: unknown): SoftPromptSpec {
  const s = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  if (s.kind !== 'prompt-tuning' && s.kind !== 'prefix-tuning') throw new AdapterFormatError(`soft.kind must be "prompt-tuning" or "prefix-tuning", found ${JSON.stringify(s.kind)}`);
  const N = s.numVirtualTokens;
  if (typeof N !== 'number' || !Number.isInteger(N) || N < 1 || N > 4096) throw new AdapterFormatError(`soft.numVirtualTokens must be an integer from 1 to 4096, found ${JSON.stringify(N)}`);
  if (s.init !== 'random' && s.init !== 'text') throw new AdapterFormatError(`soft.init must be "random" or "text", found ${JSON.stringify(s.init)}`);
  if (s.initText !== null && typeof s.initText !== 'string') throw new AdapterFormatError('soft.initText must be a string or null');
  if (typeof s.baseModel !== 'string') throw new AdapterFormatError('soft.baseModel must be a string');
  return { kind: s.kind, numVirtualTokens: N, init: s.init, initText: s.initText as string | null, baseModel: s.baseModel };
}

/** prompt_embeddings out of a link's safetensors bytes: [N, W], W checked against `model` when given. */
async function readSoftPrompt(spec: SoftPromptSpec, bytes: Uint8Array, model?: LlamaConfig): Promise<SoftPromptWeights> {
  const src = bufferSource(bytes);
  const header = await readHeader(src, 'shared soft prompt');
  const info = header.tensors.get(PROMPT_EMBEDDINGS_KEY);
  if (!info || header.tensors.size !== 1) throw new AdapterFormatError(`the soft prompt must be the one tensor "${PROMPT_EMBEDDINGS_KEY}"`);
  const W = model ? softPromptWidth(model, spec.kind) : info.shape[1];
  if (info.shape.length !== 2 || info.shape[0] !== spec.numVirtualTokens || info.shape[1] !== W) throw new AdapterFormatError(`"${PROMPT_EMBEDDINGS_KEY}" has shape [${info.shape.join(', ')}], expected [${spec.numVirtualTokens}, ${W}]`);
  const values = await readTensorF32(src, header, PROMPT_EMBEDDINGS_KEY);
  if (!values.every(Number.isFinite)) throw new AdapterFormatError(`"${PROMPT_EMBEDDINGS_KEY}" holds non-finite values`);
  return { values };
}

const invalid = (detail: string): ShareLinkError => new ShareLinkError(`This share link holds an invalid adapter: ${detail}.`);

/** Inflates raw deflate data, refusing to produce more than `expected` bytes (so a crafted link cannot exhaust memory). */
function boundedInflate(compressed: Uint8Array, expected: number): Uint8Array {
  const out = new Uint8Array(expected);
  let written = 0;
  let overflow = false;
  let done = false;
  const inflater = new Inflate((chunk, final) => {
    if (written + chunk.length > expected) overflow = true;
    else out.set(chunk, written);
    written += chunk.length;
    if (final) done = true;
  });
  try {
    for (let i = 0; i < compressed.length && !overflow; i += INFLATE_CHUNK_BYTES) {
      const end = Math.min(i + INFLATE_CHUNK_BYTES, compressed.length);
      inflater.push(compressed.subarray(i, end), end === compressed.length);
    }
  } catch (e) {
    throw corrupted(`its compressed data is damaged (${(e as Error).message})`);
  }
  if (overflow) throw corrupted(`it inflates to more than the ${expected.toLocaleString('en-US')} bytes it declares`);
  if (!done || written !== expected) throw corrupted(`it inflates to ${written.toLocaleString('en-US')} bytes, expected ${expected.toLocaleString('en-US')}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// base64url (RFC 4648 section 5, no padding) and CRC32 (IEEE 802.3, as in zip and PNG)

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

export function base64UrlEncode(bytes: Uint8Array): string {
  const parts: string[] = [];
  let chunk = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let k = 0; k < chars; k++) chunk += ALPHABET[(n >> (18 - 6 * k)) & 63];
    if (chunk.length >= 8192) { parts.push(chunk); chunk = ''; }
  }
  parts.push(chunk);
  return parts.join('');
}

export function base64UrlDecode(text: string): Uint8Array {
  const t = text.replace(/=+$/, '');
  if (t.length % 4 === 1) throw corrupted(`its length (${t.length} characters) is not a whole number of bytes`);
  const out = new Uint8Array(Math.floor((t.length * 6) / 8));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    const v = c < 128 ? DECODE[c]! : -1;
    if (v < 0) throw corrupted(`it contains the character ${JSON.stringify(t[i])} at position ${i}, which a share link never holds`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC32 of `bytes`, continuing from `previous` (the CRC of what came before). */
export function crc32(bytes: Uint8Array, previous = 0): number {
  let c = (previous ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
