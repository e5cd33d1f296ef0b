// The column mapper: the file's columns with sample values, the mapping in use (detected from common
// names, or the user's), and a form to map columns to a format's fields. Applying it re-reads the
// file with the mapping (a dataset option), so counts, bad rows and the preview follow it.
import { useEffect, useId, useState } from 'react';
import { useApp } from '../store/app-store';
import { MAPPING_FIELDS, MAPPING_FORMATS, mappingProblems, type ColumnMapping, type MappingFormat } from '../data/columns';
import type { DatasetReport } from '../worker/protocol';

const MAPPING_NAMES: Record<MappingFormat, string> = {
  'prompt-completion': 'Prompt / completion',
  alpaca: 'Instruction / input / output (Alpaca)',
  messages: 'Chat conversation (list of turns)',
  preference: 'Preference pairs (prompt / chosen / rejected)',
  unpaired: 'Unpaired feedback (prompt / completion / label)',
  text: 'Plain text',
  prompt: 'Prompts only (GRPO)',
};

function describe(m: ColumnMapping): string {
  return MAPPING_FIELDS[m.format].filter((f) => m.fields[f.field]).map((f) => `${f.field} ← ${m.fields[f.field]}`).join(', ');
}

function ColumnsTable({ d }: { d: DatasetReport }) {
  return (
    <table className="columns" aria-label="Columns in the file">
      <thead>
        <tr>
          <th scope="col">Column</th>
          <th scope="col">Type</th>
          <th scope="col">Sample values</th>
        </tr>
      </thead>
      <tbody>
        {d.columns.map((c) => (
          <tr key={c.name}>
            <th scope="row">{c.name}</th>
            <td>{c.types.join(', ')}</td>
            <td>{c.samples.map((s, i) => <div key={i} className="sample">{s}</div>)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function MappingForm({ d, disabled }: { d: DatasetReport; disabled: boolean }) {
  const given = useApp((s) => s.datasetOptions.columns);
  const setOptions = useApp((s) => s.setDatasetOptions);
  const start = d.mapping?.columns ?? { format: 'prompt-completion' as const, fields: {} };
  const [draft, setDraft] = useState<ColumnMapping>(start);
  const key = JSON.stringify(start);
  // A new report (another file, another mapping applied) restarts the draft from what it used.
  useEffect(() => setDraft(JSON.parse(key) as ColumnMapping), [key, d.fileName]);
  const formatId = useId();
  const baseId = useId();
  const problems = mappingProblems(draft);
  const names = d.columns.map((c) => c.name);
  const setField = (field: string, column: string) => {
    const fields = { ...draft.fields };
    if (column) fields[field] = column;
    else delete fields[field];
    setDraft({ ...draft, fields });
  };
  return (
    <form
      className="settings"
      aria-label="Map columns"
      onSubmit={(e) => {
        e.preventDefault();
        if (problems.length === 0) void setOptions({ columns: draft });
      }}
    >
      <div className="grid">
        <div className="field">
          <label htmlFor={formatId}>Map to format</label>
          <select id={formatId} value={draft.format} disabled={disabled} onChange={(e) => setDraft({ format: e.target.value as MappingFormat, fields: {} })}>
            {MAPPING_FORMATS.map((f) => (
              <option key={f} value={f}>{MAPPING_NAMES[f]}</option>
            ))}
          </select>
        </div>
        {MAPPING_FIELDS[draft.format].map((f) => {
          const id = `${baseId}-${f.field}`;
          // Role and content are keys inside each turn, not columns: typed, not picked.
          const inTurn = draft.format === 'messages' && f.field !== 'messages';
          return (
            <div className="field" key={f.field}>
              {/* A column picker reads "Column for prompt", so it never shares a name with the Use step's Prompt box. */}
              <label htmlFor={id}>{inTurn ? f.label : `Column for ${f.label.toLowerCase()}`}{f.required ? '' : ' (optional)'}</label>
              {inTurn ? (
                <input id={id} type="text" value={draft.fields[f.field] ?? ''} disabled={disabled} placeholder={f.field === 'role' ? 'e.g. from' : 'e.g. value'} onChange={(e) => setField(f.field, e.target.value.trim())} />
              ) : (
                <select id={id} value={draft.fields[f.field] ?? ''} disabled={disabled} onChange={(e) => setField(f.field, e.target.value)}>
                  <option value="">{f.required ? 'Choose a column' : 'None'}</option>
                  {names.map((n) => (
                    <option key={n} value={n}>{n}</option>
                  ))}
                </select>
              )}
            </div>
          );
        })}
      </div>
      {problems.length > 0 ? <p className="hint" role="status">{problems.join('; ')}.</p> : null}
      <div className="row">
        <button type="submit" disabled={disabled || problems.length > 0}>Apply mapping</button>
        {given ? (
          <button type="button" disabled={disabled} onClick={() => void setOptions({ columns: null })}>Clear mapping (detect again)</button>
        ) : null}
      </div>
    </form>
  );
}

export function ColumnMapper() {
  const d = useApp((s) => s.dataset);
  const busy = useApp((s) => s.datasetBusy);
  if (!d || d.columns.length === 0) return null;
  const needed = d.format === null || d.mapping !== null;
  return (
    <details className="card" open={needed} aria-label="Columns and mapping">
      <summary>Columns ({d.columns.length}){d.mapping ? ' · mapped' : d.format === null ? ' · not a known format: map them' : ''}</summary>
      <p data-testid="column-mapping-status" role="status">
        {d.mapping
          ? `${d.mapping.source === 'given' ? 'Your mapping' : 'Mapping detected from the column names'}: ${describe(d.mapping.columns)}.`
          : d.format === null
            ? 'These columns are not a known format. Choose a format and which column feeds each field.'
            : `The columns are read as ${d.format} directly; map them to read them otherwise.`}
      </p>
      <ColumnsTable d={d} />
      <MappingForm d={d} disabled={busy} />
    </details>
  );
}
