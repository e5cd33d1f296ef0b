// stories260K as a chat model, for the CLI tests of conversational rows: none of the tiny models in
// ../shared/models ships a chat_template, so a temporary folder links stories260K's files and adds
// one (plain words, since its 512-piece vocabulary has no chat tokens) to tokenizer_config.json.
import { mkdtemp, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const STORIES_DIR = new URL('../../shared/models/stories260K/', import.meta.url).pathname;

/** Each user turn a "Question:" line, each answer an "Answer:" line closed by EOS; the generation prompt opens an answer. */
export const STORIES_CHAT_TEMPLATE =
  "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] + '\\n' }}{% elif m['role'] == 'user' %}{{ 'Question: ' + m['content'] + '\\n' }}" +
  "{% else %}{{ 'Answer: ' + m['content'] + eos_token }}{% if not loop.last %}{{ '\\n' }}{% endif %}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'Answer:' }}{% endif %}";

/** A folder (under the OS temp dir) holding stories260K with STORIES_CHAT_TEMPLATE as its chat_template. */
export async function storiesChatModel(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'stories-chat-'));
  for (const f of await readdir(STORIES_DIR)) if (f !== 'tokenizer_config.json') await symlink(path.join(STORIES_DIR, f), path.join(dir, f));
  const config = JSON.parse(await readFile(path.join(STORIES_DIR, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ ...config, chat_template: STORIES_CHAT_TEMPLATE }));
  return dir;
}
