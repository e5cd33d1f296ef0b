// The error a model's files raise when they describe something this engine does not compute:
// an architecture, a config key or value, a missing or misshapen tensor. The message names it.
export class UnsupportedModelError extends Error {
  override name = 'UnsupportedModelError';
}
