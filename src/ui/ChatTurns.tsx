// A chat-rendered prompt shown as the conversation it is: one line per turn (role, then text),
// and the model's reply as the last assistant turn. Used by the training samples and Evaluate.
import type { ChatTurn } from '../data/chat-turns';

const ROLE_LABEL: Record<ChatTurn['role'], string> = { system: 'System', user: 'User', assistant: 'Assistant' };

export function ChatTurns({ turns, reply, replyLabel = 'Assistant' }: { turns: ChatTurn[]; reply?: string; replyLabel?: string }) {
  return (
    <div className="turns">
      {turns.map((t, i) => (
        <p key={i} className={`turn ${t.role}`}><span className="role">{ROLE_LABEL[t.role]}:</span> {t.content}</p>
      ))}
      {reply !== undefined ? <p className="turn assistant reply"><span className="role">{replyLabel}:</span> {reply}</p> : null}
    </div>
  );
}
