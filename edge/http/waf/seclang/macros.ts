// Macro expansion (%{TX.anomaly_score}, %{MATCHED_VAR}, %{rule.id}, ...) in action values and
// operator parameters (Reference Manual v2.x, "Macro expansion"). A text is compiled once into
// literal and variable parts; expanding it is a join.

export interface MacroRef {
  /** Upper-case collection or variable, e.g. TX, MATCHED_VAR, RULE, REQUEST_HEADERS. */
  readonly collection: string;
  /** Lower-case key after the ".", or null for a plain variable. */
  readonly key: string | null;
}

export interface Macro {
  readonly text: string;
  readonly parts: readonly (string | MacroRef)[];
  /** True when there is nothing to expand. */
  readonly constant: boolean;
}

export type MacroResolver = (ref: MacroRef) => string;

export function compileMacro(text: string): Macro {
  if (text.indexOf('%{') < 0) return { text, parts: [text], constant: true };
  const parts: (string | MacroRef)[] = [];
  const re = /%\{([A-Za-z_][A-Za-z0-9_]*)(?:[.:]([^}]*))?\}/g;
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    parts.push({ collection: m[1]!.toUpperCase(), key: m[2] === undefined ? null : m[2].toLowerCase() });
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return { text, parts, constant: parts.every((p) => typeof p === 'string') };
}

export function expandMacro(macro: Macro, resolve: MacroResolver): string {
  if (macro.constant) return macro.text;
  let out = '';
  for (const part of macro.parts) out += typeof part === 'string' ? part : resolve(part);
  return out;
}
