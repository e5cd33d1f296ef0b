import { deflateSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { parseConfig, type LinearModule } from '../model/config';
import type { LoraSpec } from './lora-types';
import {
  base64UrlDecode, base64UrlEncode, crc32, decodeShareFragment, encodeShareLink,
  MAX_DECODED_BYTES, MAX_SHARE_URL_CHARS, ShareLinkError, ShareLinkTooLargeError, shareLinkFitsInUrl, type LoraSharePayload as SharePayload,
} from './share-link';
import { syntheticLoraWeights } from './synthetic-adapter';

const STORIES = parseConfig({
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 64, intermediate_size: 172,
  num_hidden_layers: 5, num_attention_heads: 8, num_key_value_heads: 4, head_dim: 8, vocab_size: 512,
});
const PAGE = 'http://localhost:5173/';

function payloadFor(targets: LinearModule[] = ['q_proj', 'v_proj'], seed = 11): SharePayload {
  const spec: LoraSpec = { r: 8, alpha: 16, dropout: 0.05, targetModules: targets, useRslora: false, baseModel: 'http://localhost:8000/stories260K' };
  return { model: { source: spec.baseModel, fingerprint: '0123456789abcdef' }, spec, weights: syntheticLoraWeights(STORIES, spec, seed) };
}
const bits = (a: Float32Array): number[] => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];
const fragmentOf = (link: string): string => link.slice(link.indexOf('#'));
const errorOf = async (p: Promise<unknown>): Promise<Error | null> => p.then(() => null, (e: unknown) => e as Error);

describe('share link round trip', () => {
  it.each([[['q_proj', 'v_proj'] as LinearModule[]], [['gate_proj', 'up_proj', 'down_proj', 'o_proj'] as LinearModule[]]])(
    'carries %j, the model identity and the spec bit for bit', async (targets) => {
      const payload = payloadFor(targets);
      payload.weights.layers[2]!.B[5] = 1.401298464324817e-45; // smallest subnormal: lost by any decimal or f16 path
      const link = encodeShareLink('http://localhost:5173/app?x=1#old-fragment', payload);
      expect(link.startsWith('http://localhost:5173/app?x=1#adapter=')).toBe(true);
      expect(link).toMatch(/^[^#]+#adapter=[A-Za-z0-9_-]+$/);
      const back = (await decodeShareFragment(fragmentOf(link), STORIES)) as SharePayload;
      expect(back.model).toEqual(payload.model);
      expect(back.spec).toEqual(payload.spec);
      expect(back.weights.layers).toHaveLength(payload.weights.layers.length);
      // The reader returns layers sorted by (layer, module in LINEAR_MODULES order): match by name.
      back.weights.layers.forEach((l) => {
        const w = payload.weights.layers.find((x) => x.layer === l.layer && x.module === l.module)!;
        expect([l.layer, l.module, l.inFeatures, l.outFeatures]).toEqual([w.layer, w.module, w.inFeatures, w.outFeatures]);
        expect(bits(l.A)).toEqual(bits(w.A));
        expect(bits(l.B)).toEqual(bits(w.B));
      });
    });

  it('accepts the fragment without "#", as a whole URL, among other parameters, and wrapped over lines', async () => {
    const link = encodeShareLink(PAGE, payloadFor());
    const body = link.slice(link.indexOf('=') + 1);
    const wrapped = body.replace(/(.{76})/g, '$1\n');
    for (const form of [link, `adapter=${body}`, `#view=chat&adapter=${body}`, `#adapter=${wrapped}`]) {
      const back = (await decodeShareFragment(form)) as SharePayload;
      expect(back.model.fingerprint).toBe('0123456789abcdef');
    }
  });

  it('measures the link for a stories260K-sized adapter (5 layers, r=8, q_proj 64x64 and v_proj 32x64)', () => {
    const payload = payloadFor();
    const link = encodeShareLink(PAGE, payload);
    const floats = payload.weights.layers.reduce((n, l) => n + l.A.length + l.B.length, 0);
    // 5 x (8*64 + 64*8 + 8*64 + 32*8) = 8,960 floats = 35,840 bytes; random floats barely compress.
    expect(floats).toBe(8960);
    console.log(`stories260K q+v r=8 share link: ${link.length} characters for ${floats * 4} bytes of weights`);
    expect(link.length).toBeLessThan(60_000);
    expect(shareLinkFitsInUrl(link.length)).toBe(true);
  });
});

describe('base64url and CRC32', () => {
  it.each([
    [[], ''], [[0xfb], '-w'], [[0xfb, 0xff], '-_8'], [[0x66, 0x6f, 0x6f, 0x62, 0x61, 0x72], 'Zm9vYmFy'],
  ])('%j <-> %s', (bytes, text) => {
    expect(base64UrlEncode(new Uint8Array(bytes))).toBe(text);
    expect([...base64UrlDecode(text)]).toEqual(bytes);
  });

  it('round-trips every byte value', () => {
    const all = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7919) & 0xff);
    expect(base64UrlDecode(base64UrlEncode(all))).toEqual(all);
  });

  it('computes the standard CRC32 check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    const whole = new TextEncoder().encode('hello world');
    expect(crc32(whole.subarray(5), crc32(whole.subarray(0, 5)))).toBe(crc32(whole));
  });
});

describe('share links that must be refused with a ShareLinkError', () => {
  const link = encodeShareLink(PAGE, payloadFor());
  const body = link.slice(link.indexOf('=') + 1);
  const frame = base64UrlDecode(body);
  const reframe = (edit: (f: Uint8Array) => void): string => {
    const f = frame.slice();
    edit(f);
    return `#adapter=${base64UrlEncode(f)}`;
  };
  const flipChar = (s: string, i: number): string => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  /** A frame with a hand-made body: declared length and CRC consistent, so only the body's content is at fault. */
  const frameWithBody = (bodyBytes: Uint8Array, declared = bodyBytes.length): string => {
    const head = new Uint8Array(12);
    head.set([0x4c, 0x41, 1, 0]);
    const v = new DataView(head.buffer);
    v.setUint32(4, declared, true);
    v.setUint32(8, crc32(bodyBytes, crc32(head.subarray(0, 8))), true);
    const z = deflateSync(bodyBytes);
    const f = new Uint8Array(12 + z.length);
    f.set(head);
    f.set(z, 12);
    return `#adapter=${base64UrlEncode(f)}`;
  };
  const jsonBody = (header: unknown, tail = new Uint8Array(0)): Uint8Array => {
    const h = new TextEncoder().encode(JSON.stringify(header));
    const b = new Uint8Array(4 + h.length + tail.length);
    new DataView(b.buffer).setUint32(0, h.length, true);
    b.set(h, 4);
    b.set(tail, 4 + h.length);
    return b;
  };

  const cases: [string, string, RegExp][] = [
    ['an empty fragment', '', /holds no shared adapter \(expected "#adapter=\.\.\." at its end\)/],
    ['a fragment without the adapter parameter', '#section-2', /holds no shared adapter/],
    ['an empty adapter parameter', '#adapter=', /truncated or corrupted: the adapter part of the address is empty/],
    ['a link cut in half', `#adapter=${body.slice(0, Math.floor(body.length / 2))}`, /^This share link is truncated or corrupted: /],
    ['a link missing its last 10 characters', `#adapter=${body.slice(0, -10)}`, /^This share link is truncated or corrupted: /],
    ['a link cut inside the frame header', `#adapter=${body.slice(0, 10)}`, /truncated or corrupted: 7 bytes is shorter than the 12-byte frame header/],
    ['one character changed in the middle', `#adapter=${flipChar(body, Math.floor(body.length / 2))}`, /^This share link is truncated or corrupted: /],
    ['one character changed early in the compressed data', `#adapter=${flipChar(body, 40)}`, /^This share link is truncated or corrupted: /],
    ['one character changed in the checksum', `#adapter=${flipChar(body, 12)}`, /truncated or corrupted: its checksum does not match/],
    ['a character no link holds', `#adapter=${body.slice(0, 100)}+${body.slice(101)}`, /the character "\+" at position 100, which a share link never holds/],
    ['a wrong marker', reframe((f) => { f[0] = 0x50; }), /truncated or corrupted: it does not start with the share-link marker/],
    ['a newer format version', reframe((f) => { f[2] = 2; }), /uses format version 2, but this page reads version 1 only/],
    ['a declared length that does not match', reframe((f) => { new DataView(f.buffer).setUint32(4, frame.length * 3, true); }), /truncated or corrupted: it inflates to [\d,]+ bytes, expected/],
    ['a payload over the decoded limit', reframe((f) => { new DataView(f.buffer).setUint32(4, MAX_DECODED_BYTES + 1, true); }), /too large to open: it declares 8,388,609 bytes, over the 8,388,608 accepted/],
    ['a zip bomb: 50 MB of zeros declared as 1 KB', frameWithBody(new Uint8Array(50 * 1024 * 1024), 1024), /truncated or corrupted: it inflates to more than the 1,024 bytes it declares/],
    ['a fragment longer than any URL', `#adapter=${'A'.repeat(MAX_SHARE_URL_CHARS + 1)}`, /too large to open: 2,000,001 characters/],
    ['a valid frame whose header is not JSON', frameWithBody(Uint8Array.of(3, 0, 0, 0, 0x7b, 0x7b, 0x7b)), /holds an invalid adapter: its header is not valid JSON/],
    ['a valid frame without the model identity', frameWithBody(jsonBody({ spec: payloadFor().spec })), /holds an invalid adapter: its header does not name the base model/],
    ['a valid frame with a bad spec', frameWithBody(jsonBody({ model: { source: 'x', fingerprint: 'y' }, spec: { ...payloadFor().spec, r: 0 } })), /holds an invalid adapter: share link spec: r must be an integer from 1 to 4096, found 0/],
    ['a valid frame with garbage instead of safetensors', frameWithBody(jsonBody({ model: { source: 'x', fingerprint: 'y' }, spec: payloadFor().spec }, new Uint8Array(64).fill(0xff))),
      /holds an invalid adapter: shared adapter: header length \d+ is not plausible/],
  ];

  it.each(cases)('%s', async (_name, fragment, message) => {
    const err = await errorOf(decodeShareFragment(fragment));
    expect(err).toBeInstanceOf(ShareLinkError);
    expect(err!.message).toMatch(message);
  });

  it('refuses every single-character change and every truncation, at positions spread over the link', async () => {
    const positions = Array.from({ length: 60 }, (_, k) => 4 + Math.floor((k * (body.length - 5)) / 59));
    for (const i of positions) {
      for (const fragment of [`#adapter=${flipChar(body, i)}`, `#adapter=${body.slice(0, i)}`]) {
        const err = await errorOf(decodeShareFragment(fragment));
        expect(err, `position ${i}`).toBeInstanceOf(ShareLinkError);
        expect(err!.message, `position ${i}`).toMatch(/^This share link is truncated or corrupted: /);
      }
    }
  });

  it('refuses an adapter whose shapes do not fit the loaded model', async () => {
    const other = parseConfig({ architectures: ['LlamaForCausalLM'], hidden_size: 128, intermediate_size: 256, num_hidden_layers: 5, num_attention_heads: 8, vocab_size: 512 });
    const err = await errorOf(decodeShareFragment(fragmentOf(link), other));
    expect(err).toBeInstanceOf(ShareLinkError);
    expect(err!.message).toMatch(/holds an invalid adapter: shared adapter: tensor "base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight": shape \[8, 64\] but q_proj of this model takes 128 inputs/);
  });

  it('refuses to make a link for an adapter too large for a URL, saying what to do instead', () => {
    // 8 layers of q_proj at C=512, r=64: 2 MiB of random floats, ~2.8M characters once base64url-encoded.
    const big = parseConfig({ architectures: ['LlamaForCausalLM'], hidden_size: 512, intermediate_size: 1024, num_hidden_layers: 8, num_attention_heads: 8, vocab_size: 512 });
    const spec: LoraSpec = { r: 64, alpha: 16, dropout: 0, targetModules: ['q_proj'], useRslora: false, baseModel: 'big' };
    const payload = { model: { source: 'big', fingerprint: 'f' }, spec, weights: syntheticLoraWeights(big, spec, 1, 0.5) };
    let err: unknown = null;
    try { encodeShareLink(PAGE, payload); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ShareLinkTooLargeError);
    expect((err as Error).message).toMatch(/too large for a share link: the link would be 2,[\d,]+ characters, over the 2,000,000 that browsers accept\. Download the adapter/);
  });
});
