// Hosted adapters, for links too large to carry the weights: the PEFT files live at a folder URL
// or in a Hugging Face repo, and the link only names the place. The base model comes from
// adapter_config.json (base_model_name_or_path); the exact weights and base precision from the
// provenance this app writes into the safetensors metadata, when present.
import { resolveModelSource } from '../storage/model-source';
import { bufferSource, readHeader } from '../model/safetensors';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, AdapterFormatError, loraSpecFromPeftConfig } from './peft';
import { ShareLinkError } from './share-link';
import { peftTypeOf } from './peft-prompt';
import type { LoraSpec } from './lora-types';

/** Largest adapter file fetched for a link: bounds memory against a hostile or mistaken URL. */
export const MAX_HOSTED_ADAPTER_BYTES = 512 * 1024 * 1024;

export interface HostedAdapter {
  /** Base URL the two files were read from. */
  baseUrl: string;
  model: { source: string; fingerprint: string | null; basePrecision?: 'fp32' | 'nf4' };
  /** LoRA adapters: the spec (absent for soft prompts). */
  spec?: LoraSpec;
  /** PROMPT_TUNING / PREFIX_TUNING adapters: read fully by fromPromptPeftFiles once the base is loaded. */
  soft?: true;
  configJson: string;
  safetensors: Uint8Array;
}

export async function fetchHostedAdapter(location: string, fetchImpl: typeof fetch = fetch): Promise<HostedAdapter> {
  let baseUrl: string;
  try {
    baseUrl = resolveModelSource(location).baseUrl;
  } catch (e) {
    throw new ShareLinkError(`This share link names an adapter location that is not a URL or a Hugging Face repo id: ${(e as Error).message}`);
  }
  const get = async (file: string): Promise<Response> => {
    const url = `${baseUrl}/${file}`;
    let r: Response;
    try {
      r = await fetchImpl(url);
    } catch (e) {
      throw new ShareLinkError(`Could not reach the shared adapter at ${url} (${(e as Error).message}).`);
    }
    if (!r.ok) throw new ShareLinkError(`Could not download the shared adapter: ${file} answered HTTP ${r.status} at ${url}.`);
    const length = Number(r.headers.get('content-length') ?? 0);
    if (length > MAX_HOSTED_ADAPTER_BYTES) throw new ShareLinkError(`The shared adapter at ${url} is ${length} bytes, over the ${MAX_HOSTED_ADAPTER_BYTES} accepted.`);
    return r;
  };
  const configJson = await (await get(ADAPTER_CONFIG_FILE)).text();
  const safetensors = new Uint8Array(await (await get(ADAPTER_WEIGHTS_FILE)).arrayBuffer());
  try {
    const type = peftTypeOf(configJson);
    const soft = type === 'PROMPT_TUNING' || type === 'PREFIX_TUNING';
    const spec = soft ? null : loraSpecFromPeftConfig(configJson);
    const baseModel = soft ? (JSON.parse(configJson) as { base_model_name_or_path?: unknown }).base_model_name_or_path : spec!.baseModel;
    if (typeof baseModel !== 'string' || !baseModel) throw new AdapterFormatError(`${ADAPTER_CONFIG_FILE}: "base_model_name_or_path" is missing`);
    const meta = (await readHeader(bufferSource(safetensors), ADAPTER_WEIGHTS_FILE)).metadata;
    const bp = meta.base_precision;
    return {
      baseUrl,
      model: { source: baseModel, fingerprint: meta.base_model_fingerprint ?? null, ...(bp === 'fp32' || bp === 'nf4' ? { basePrecision: bp } : {}) },
      ...(spec ? { spec } : { soft: true as const }),
      configJson,
      safetensors,
    };
  } catch (e) {
    if (e instanceof AdapterFormatError || (e as Error).name === 'SafetensorsError') throw new ShareLinkError(`The shared adapter at ${baseUrl} is not a valid PEFT adapter: ${(e as Error).message}`);
    throw e;
  }
}
