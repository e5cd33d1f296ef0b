// `npm run export -- --format bundle --run <folder>`: reads what `npm run train` wrote (run.json,
// train.jsonl, validation.jsonl and the final PEFT adapter, else the newest checkpoint's) and
// writes the cluster bundle zip.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from '../src/adapters/peft';
import { writeBundle } from '../src/export/bundle/bundle';
import { parseRunRecord, RUN_RECORD_FILE, TRAIN_ROWS_FILE, VALIDATION_ROWS_FILE } from '../src/export/bundle/run-record';
import { ExportInputError } from '../src/export/model-tensors';
import { type ExportSink } from '../src/export/sink';

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    throw new ExportInputError(`${file} is missing: ${what}`);
  }
}

/** The folder holding the adapter: the run folder itself when training finished, else its newest checkpoint. */
async function adapterFolder(run: string): Promise<string> {
  const entries = await readdir(run);
  if (entries.includes(ADAPTER_WEIGHTS_FILE)) return run;
  const ckpts = entries.filter((d) => /^checkpoint-\d+$/.test(d)).sort((a, b) => Number(b.split('-')[1]) - Number(a.split('-')[1]));
  if (!ckpts[0]) throw new ExportInputError(`${run} holds no adapter (${ADAPTER_WEIGHTS_FILE}) and no checkpoint-<step> folder`);
  return path.join(run, ckpts[0]);
}

export async function writeRunBundle(sink: ExportSink, run: string, name?: string): Promise<{ name: string; bytes: number }[]> {
  const why = 'is this a folder written by npm run train (with run.json)?';
  const record = parseRunRecord(await readText(path.join(run, RUN_RECORD_FILE), why), path.join(run, RUN_RECORD_FILE));
  const adapter = await adapterFolder(run);
  const file = await writeBundle(sink, {
    record,
    trainJsonl: await readText(path.join(run, TRAIN_ROWS_FILE), why),
    validationJsonl: await readText(path.join(run, VALIDATION_ROWS_FILE), why),
    adapterConfigJson: await readText(path.join(adapter, ADAPTER_CONFIG_FILE), 'the run has no adapter yet'),
    adapterSafetensors: new Uint8Array(await readFile(path.join(adapter, ADAPTER_WEIGHTS_FILE))),
    name: name ?? path.basename(path.resolve(run)),
  });
  return [file];
}
