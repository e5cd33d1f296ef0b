// Step 4: generate with the base and the tuned model side by side, download the adapter in PEFT
// format, and copy a share link that opens the same adapter in any browser.
import type { GenerationSpeed } from '../model/generation-speed';
import { useState } from 'react';
import { useApp } from '../store/app-store';
import { StepBadge } from './StepBadge';
import { ErrorBox } from './common';
import { ExportPanel } from './ExportPanel';
import { ChatPromptToggle } from './ChatPromptToggle';
import { FullModelExport } from './FullModelExport';
import { FeedbackPanel, Thumbs } from './FeedbackPanel';
import { answerOnly } from '../data/feedback';

/** The speed this device generated a column at: what the person waited for, measured, not estimated. */
function SpeedLine({ speed, testId, sideBySide }: { speed?: GenerationSpeed; testId: string; sideBySide?: boolean }) {
  if (!speed || speed.newTokens === 0) return null;
  const decode = speed.decodeTokensPerSecond === null ? '' : ` at ${speed.decodeTokensPerSecond.toFixed(1)} tokens/s`;
  const prefill = speed.prefillTokensPerSecond === null ? '' : `; the ${speed.promptTokens}-token prompt read at ${Math.round(speed.prefillTokensPerSecond)} tokens/s`;
  const together = sideBySide ? ', decoded side by side with the other column' : '';
  return <p className="hint" data-testid={testId}>{speed.newTokens} new tokens{decode}{prefill}{together}.</p>;
}

export function UseStep() {
  const model = useApp((s) => s.model);
  const adapter = useApp((s) => s.adapter);
  const prompt = useApp((s) => s.prompt);
  const setPrompt = useApp((s) => s.setPrompt);
  const maxNewTokens = useApp((s) => s.maxNewTokens);
  const temperature = useApp((s) => s.temperature);
  const setOpts = useApp((s) => s.setGenerationOptions);
  const gen = useApp((s) => s.generation);
  const generate = useApp((s) => s.generate);
  const download = useApp((s) => s.downloadAdapter);
  const share = useApp((s) => s.makeShareLink);
  const shareUrl = useApp((s) => s.shareUrl);
  const error = useApp((s) => s.useError);
  const training = useApp((s) => s.training);
  const opening = useApp((s) => s.shareOpening);
  const makeHosted = useApp((s) => s.makeHostedLink);
  const [hosted, setHosted] = useState('');
  const noteGenerate = useApp((s) => s.noteGenerate);
  const asked = useApp((s) => s.lastGenerate);
  const comparing = useApp((s) => s.comparison?.running === true);
  // The outputs show the prompt in front of a plain continuation; a rating keeps the answer alone.
  const rated = (text: string | null, from: 'base' | 'tuned') => (asked && text !== null && !gen.running ? { text: answerOnly(asked.prompt, text, asked.chat), from, temperature: asked.temperature, seed: asked.seed } : null);
  return (
    <section id="step-use" tabIndex={-1} aria-labelledby="h-use" className={`step${model ? '' : ' locked'}`}>
      <StepBadge step="use" />
      <h2 id="h-use">4. Use &amp; share</h2>
      {opening ? <p role="status">Opening the shared adapter: loading its base model…</p> : null}
      {adapter ? (
        <p className="card" aria-label="Adapter">
          {adapter.origin === 'shared' ? 'Shared adapter' : 'Trained adapter'}: {adapter.full ? 'full fine-tuning, every weight' : adapter.soft ? `${adapter.soft.kind === 'prompt-tuning' ? 'prompt tuning' : 'prefix tuning'}, ${adapter.soft.numVirtualTokens} virtual tokens` : `rank ${adapter.spec.r}, alpha ${adapter.spec.alpha}, on ${adapter.spec.targetModules.join(', ')}`} · {adapter.parameters.toLocaleString()} parameters · base {adapter.spec.baseModel}
        </p>
      ) : (
        <p className="muted">Train an adapter (or open a share link) to compare it with the base model.</p>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          noteGenerate();
          void generate();
        }}
      >
        <label className="field">
          Prompt
          <textarea rows={3} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
        </label>
        <div className="row">
          <label className="field small">
            New tokens
            <input type="number" min={1} max={1024} value={maxNewTokens} onChange={(e) => setOpts({ maxNewTokens: Math.max(1, Math.round(Number(e.target.value) || 1)) })} />
          </label>
          <label className="field small">
            Temperature (0 = greedy)
            <input type="number" min={0} max={2} step={0.1} value={temperature} onChange={(e) => setOpts({ temperature: Math.max(0, Number(e.target.value) || 0) })} />
          </label>
          <ChatPromptToggle />
          <button type="submit" className="primary" disabled={!model || gen.running || training || comparing}>{gen.running ? 'Generating…' : 'Generate'}</button>
        </div>
      </form>
      <div className="compare">
        <figure>
          <figcaption>Base model</figcaption>
          <output aria-label="Base model output">{gen.base ?? ''}</output>
          <SpeedLine speed={gen.baseSpeed} testId="base-speed" sideBySide={gen.sideBySide} />
          <Thumbs label="the base model's answer" ctx={asked} answer={rated(gen.base, 'base')} />
        </figure>
        <figure>
          <figcaption>With adapter</figcaption>
          <output aria-label="Tuned model output">{gen.tuned ?? (adapter ? '' : 'no adapter yet')}</output>
          <SpeedLine speed={gen.tunedSpeed} testId="tuned-speed" sideBySide={gen.sideBySide} />
          {gen.tuned !== null ? <Thumbs label="the tuned model's answer" ctx={asked} answer={rated(gen.tuned, 'tuned')} /> : null}
        </figure>
      </div>
      <div className="row">
        <button type="button" disabled={!adapter || training || Boolean(adapter.full)} onClick={() => void download()}>Download adapter (PEFT)</button>
        <button type="button" disabled={!adapter || training || Boolean(adapter.full)} onClick={() => void share()}>Copy share link</button>
      </div>
      <FullModelExport />
      <details>
        <summary>Adapter too large for a link? Share a hosted copy</summary>
        <p className="muted">
          Download the adapter, put both files in a Hugging Face repo or a folder on any web server that allows cross-origin requests, then enter its address. The link then names that place instead of carrying the weights.
        </p>
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            makeHosted(hosted);
          }}
        >
          <label className="grow">
            Hosted adapter location
            <input type="text" value={hosted} onChange={(e) => setHosted(e.target.value)} placeholder="org/my-adapter or https://…/adapter-folder" spellCheck={false} />
          </label>
          <button type="submit">Make hosted link</button>
        </form>
      </details>
      {shareUrl ? (
        <label className="field">
          {shareUrl.includes('#adapter-url=')
            ? 'Share link (opens the hosted adapter files)'
            : `Share link (${Math.round(shareUrl.length / 1024)} KB; the adapter travels in the link and is never uploaded)`}
          <input type="text" readOnly value={shareUrl} onFocus={(e) => e.target.select()} />
        </label>
      ) : null}
      <ErrorBox error={error} />
      <FeedbackPanel />
      <ExportPanel />
    </section>
  );
}
