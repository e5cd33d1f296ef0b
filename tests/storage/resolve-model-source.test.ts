// What a person types in the model box becomes a stored identity and a base URL, or a clear refusal.
import { describe, expect, it } from 'vitest';
import { ModelSourceError, parseContentRange, resolveModelSource } from '../../src/storage/model-store';

describe('resolveModelSource', () => {
  it.each([
    ['HuggingFaceTB/SmolLM2-135M', 'HuggingFaceTB/SmolLM2-135M', 'https://huggingface.co/HuggingFaceTB/SmolLM2-135M/resolve/main'],
    ['  HuggingFaceTB/SmolLM2-135M/ ', 'HuggingFaceTB/SmolLM2-135M', 'https://huggingface.co/HuggingFaceTB/SmolLM2-135M/resolve/main'],
    ['org/model@v1.0', 'org/model@v1.0', 'https://huggingface.co/org/model/resolve/v1.0'],
    ['https://huggingface.co/HuggingFaceTB/SmolLM2-135M', 'HuggingFaceTB/SmolLM2-135M', 'https://huggingface.co/HuggingFaceTB/SmolLM2-135M/resolve/main'],
    ['https://huggingface.co/org/model/tree/dev', 'org/model@dev', 'https://huggingface.co/org/model/resolve/dev'],
    ['https://huggingface.co/org/model/resolve/main/', 'https://huggingface.co/org/model/resolve/main', 'https://huggingface.co/org/model/resolve/main'],
    ['http://127.0.0.1:5174/models/stories260K/', 'http://127.0.0.1:5174/models/stories260K', 'http://127.0.0.1:5174/models/stories260K'],
    ['http://localhost:8000', 'http://localhost:8000', 'http://localhost:8000'],
  ])('%j -> source %s, base %s', (input, source, baseUrl) => {
    expect(resolveModelSource(input)).toEqual({ source, baseUrl });
  });

  it.each([
    ['', /Enter a Hugging Face model id/],
    ['   ', /Enter a Hugging Face model id/],
    ['SmolLM2-135M', /neither a Hugging Face model id/],
    ['a/b/c', /neither a Hugging Face model id/],
    ['../etc/passwd', /neither a Hugging Face model id/],
    ['org/../x', /neither a Hugging Face model id/],
    ['ftp://example.com/model', /not an http\(s\) URL/],
    ['file:///home/me/model', /not an http\(s\) URL/],
    ['http://example.com/model?download=1', /query/],
    ['http://', /not a valid URL/],
  ])('refuses %j with a ModelSourceError saying why', (input, message) => {
    expect(() => resolveModelSource(input)).toThrow(ModelSourceError);
    expect(() => resolveModelSource(input)).toThrow(message);
  });
});

describe('parseContentRange', () => {
  it.each([
    ['bytes 0-9/100', { start: 0, end: 9, total: 100 }],
    ['bytes 65536-1044991/1044992', { start: 65536, end: 1044991, total: 1044992 }],
    ['bytes 5-9/*', { start: 5, end: 9, total: null }],
    ['bytes */100', null],
    [null, null],
  ])('%j -> %j', (header, expected) => {
    expect(parseContentRange(header)).toEqual(expected);
  });
});
