// Target-module presets as PEFT users name them: q and v (PEFT's Llama default), every attention
// projection, or every linear layer (QLoRA's recommendation, "all-linear" in PEFT).
import { LINEAR_MODULES, type LinearModule } from '../model/config';

export type TargetPreset = 'qv' | 'attention' | 'all-linear';

export const TARGET_PRESETS: Record<TargetPreset, { label: string; modules: LinearModule[]; hint: string }> = {
  qv: { label: 'q + v', modules: ['q_proj', 'v_proj'], hint: 'Fewest parameters; the original LoRA paper’s choice.' },
  attention: { label: 'All attention', modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], hint: 'q, k, v and o projections.' },
  'all-linear': { label: 'All linear', modules: [...LINEAR_MODULES], hint: 'Attention and MLP; most capacity (QLoRA’s choice).' },
};

/** The preset whose modules are exactly `modules` (any order), or null for a custom choice. */
export function presetOf(modules: readonly LinearModule[]): TargetPreset | null {
  const key = [...modules].sort().join(',');
  for (const [name, p] of Object.entries(TARGET_PRESETS) as [TargetPreset, (typeof TARGET_PRESETS)[TargetPreset]][]) {
    if ([...p.modules].sort().join(',') === key) return name;
  }
  return null;
}

/** Parses a CLI --targets value: a preset name or a comma list of module names. */
export function parseTargets(text: string): LinearModule[] {
  if (text in TARGET_PRESETS) return [...TARGET_PRESETS[text as TargetPreset].modules];
  const mods = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const m of mods) {
    if (!(LINEAR_MODULES as readonly string[]).includes(m)) throw new Error(`--targets: unknown module "${m}"; use ${LINEAR_MODULES.join(', ')} or a preset (${Object.keys(TARGET_PRESETS).join(', ')})`);
  }
  if (mods.length === 0) throw new Error('--targets: name at least one module');
  return mods as LinearModule[];
}
