// Use step: send the prompt as a chat turn through the model's own template (instruct models), or
// as plain text (base models). Only offered when the model ships a chat template.
import { useApp } from '../store/app-store';

export function ChatPromptToggle() {
  const has = useApp((s) => s.model?.hasChatTemplate === true);
  const on = useApp((s) => s.chatPrompt);
  const set = useApp((s) => s.setChatPrompt);
  if (!has) return null;
  return (
    <label className="check">
      <input type="checkbox" checked={on} onChange={(e) => set(e.target.checked)} />
      Send as a chat turn (the model's chat template; shows the reply only)
    </label>
  );
}
