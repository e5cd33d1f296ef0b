// The forgetting check's data: a small general-English sample (public/eval/general-text.txt, written
// for this project) cut into paragraphs, each one a fully trained example, so "did tuning make the
// model worse at ordinary text?" is a loss on text the tuning never saw.
import type { TextTokenizer } from '../tokenizer/tokenizer';
import type { TokenizedExample } from '../train/batches';

/** Paragraphs (blank-line separated) as examples: the tokenizer's own BOS, every later token trained. */
export function generalTextExamples(text: string, tok: TextTokenizer): TokenizedExample[] {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.replace(/\s+/g, ' ').trim())
    .filter((p) => p.length > 0 && !p.startsWith('#'))
    .map((p) => {
      const inputIds = tok.encode(p);
      return { inputIds, lossMask: inputIds.map((_, t) => (t === 0 ? 0 : 1)) };
    });
}
