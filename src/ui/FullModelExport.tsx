// Use & share for a fully fine-tuned model: downloads it as a complete Hugging Face folder (config.json,
// model.safetensors in the base checkpoint's dtype, tokenizer files), and says why share links do not
// apply and how a hosted copy of the folder is opened instead. Mounted by UseStep with one line.
import { useApp } from '../store/app-store';

export function FullModelExport() {
  const adapter = useApp((s) => s.adapter);
  const training = useApp((s) => s.training);
  const download = useApp((s) => s.downloadModelFolder);
  if (!adapter?.full) return null;
  return (
    <div className="card" aria-label="Fully fine-tuned model">
      <p>
        Every weight was trained ({adapter.parameters.toLocaleString()} parameters), so there is no adapter to download or put in a share link (share links carry adapters).
        Download the model as a Hugging Face folder: it loads like the original in Transformers, in <code>npm run generate -- --model &lt;folder&gt;</code>, and here when its folder is hosted
        (a web server allowing cross-origin requests, or a hub repo): open that URL as the model in step 1.
      </p>
      <button type="button" disabled={training} onClick={() => void download()}>Download model (Hugging Face folder)</button>
    </div>
  );
}
