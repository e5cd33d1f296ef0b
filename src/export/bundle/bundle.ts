// The "continue on a GPU cluster" bundle: one zip (fflate, streamed into the sink as it is
// compressed) holding the exact rows, the PEFT adapter, run.json, a README, a TRL script (SFT, the
// DPO / KTO / ORPO trainer, or GRPO's with its reward in reward.py), an axolotl config for SFT runs,
// and accelerate configs.
import { Zip, ZipDeflate } from 'fflate';
import { type ExportSink } from '../sink';
import { axolotlYaml } from './axolotl';
import { bundleReadme } from './readme';
import { type RunRecord } from './run-record';
import { accelerateConfigs, trlScript } from './trl';
import { preferenceTrlScript } from './trl-preference';
import { grpoRewardFiles, grpoTrlScript } from './trl-grpo';

export interface BundleInput {
  record: RunRecord;
  /** The JSONL text of the training and validation rows. */
  trainJsonl: string;
  validationJsonl: string;
  adapterConfigJson: string;
  adapterSafetensors: Uint8Array;
  name: string;
}

/** name -> contents of every file in the bundle (what the zip holds). */
export function bundleFiles(b: BundleInput): Map<string, string | Uint8Array> {
  // KTO and GRPO rows look like prompt-completion data: the objective, not the format, picks the script.
  const objective = b.record.settings.objective ?? 'sft';
  const grpoReward = objective === 'grpo' ? grpoRewardFiles(b.record) : [];
  const files = new Map<string, string | Uint8Array>([
    ['README.md', bundleReadme(b.record, b.name)],
    ['run.json', JSON.stringify(b.record, null, 2) + '\n'],
    ['data/train.jsonl', b.trainJsonl],
    ['data/validation.jsonl', b.validationJsonl],
    ['adapter/adapter_config.json', b.adapterConfigJson],
    ['adapter/adapter_model.safetensors', b.adapterSafetensors],
  ]);
  // Preference and GRPO runs get TRL's trainer for their loss; axolotl's configs for them are not written.
  if (objective === 'sft') files.set('axolotl.yaml', axolotlYaml(b.record));
  files.set('train_trl.py', objective === 'sft' ? trlScript(b.record) : objective === 'grpo' ? grpoTrlScript(b.record) : preferenceTrlScript(b.record, objective));
  for (const [k, v] of grpoReward) files.set(k, v);
  for (const [k, v] of Object.entries(accelerateConfigs())) files.set(k, v);
  return files;
}

export function bundleFileName(name: string): string {
  return `${name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'run'}-cluster-bundle.zip`;
}

export async function writeBundle(sink: ExportSink, b: BundleInput): Promise<{ name: string; bytes: number }> {
  const name = bundleFileName(b.name);
  const writer = await sink.create(name);
  let bytes = 0;
  let chain: Promise<void> = Promise.resolve();
  let zipError: Error | null = null;
  const zip = new Zip((err, chunk) => {
    if (err) zipError = err;
    else chain = chain.then(() => { bytes += chunk.byteLength; return writer.write(chunk); });
  });
  try {
    const enc = new TextEncoder();
    for (const [path, content] of bundleFiles(b)) {
      const entry = new ZipDeflate(path, { level: 6 });
      zip.add(entry);
      entry.push(typeof content === 'string' ? enc.encode(content) : content, true);
      await chain; // back-pressure: never more than one file's compressed bytes queued
    }
    zip.end();
    await chain;
    if (zipError) throw zipError;
    await writer.close();
    return { name, bytes };
  } catch (e) {
    zip.terminate();
    await chain.catch(() => undefined);
    await writer.abort().catch(() => undefined);
    throw e;
  }
}
