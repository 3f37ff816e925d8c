import type { z } from 'zod';

/**
 * How every entry point (serve, start, the CLI, `usher config check`) prints configuration faults:
 * one fault per line, each naming where it is.
 */
export function formatFaults(faults: readonly string[]): string {
  return `configuration has ${faults.length} fault${faults.length === 1 ? '' : 's'}:\n${faults.map((f) => `  - ${f.replaceAll('\n', '\n    ')}`).join('\n')}`;
}

/** Edit distance with adjacent swaps counted once (titel → title), for "did you mean"; config keys are short. */
function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  const d = Array.from({ length: x.length + 1 }, (_, i) => Array.from({ length: y.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[x.length]![y.length]!;
}

/** The closest of `known` to `given`, if it is close enough to be what was meant. */
export function didYouMean(given: string, known: readonly string[]): string | undefined {
  let best: { key: string; d: number } | undefined;
  for (const key of known) {
    const d = distance(given, key);
    if (!best || d < best.d) best = { key, d };
  }
  if (!best) return undefined;
  const tolerance = Math.max(1, Math.floor(Math.max(given.length, best.key.length) / 3));
  return best.d <= tolerance ? best.key : undefined;
}

type AnySchema = z.ZodType & { _zod: { def: Record<string, unknown> } };

/** The object keys a schema accepts at a path of the parsed value (through defaults, optionals, records, arrays). */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s = schema as AnySchema | undefined;
  const unwrap = () => {
    for (let i = 0; i < 10 && s; i++) {
      const def = s._zod.def;
      const inner = (def.innerType ?? (def.type === 'pipe' ? def.in : undefined)) as AnySchema | undefined;
      if (!inner) return;
      s = inner;
    }
  };
  unwrap();
  for (const step of path) {
    if (!s) return [];
    const def = s._zod.def;
    if (def.type === 'object') s = (def.shape as Record<string, AnySchema>)[String(step)];
    else if (def.type === 'record') s = def.valueType as AnySchema;
    else if (def.type === 'array') s = def.element as AnySchema;
    else return [];
    unwrap();
  }
  return s && s._zod.def.type === 'object' ? Object.keys(s._zod.def.shape as Record<string, unknown>) : [];
}

/** zod's issues as faults: an unknown key says where it is and what was probably meant. */
export function schemaFaults(schema: z.ZodType, issues: readonly z.core.$ZodIssue[], prefix: string): string[] {
  return issues.flatMap((issue) => {
    const at = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      const known = keysAt(schema, issue.path);
      return issue.keys.map((key) => {
        const guess = didYouMean(key, known);
        const where = at ? `${at}.${key}` : key;
        return `${prefix}${where}: unknown key${guess ? ` — did you mean "${guess}"?` : known.length ? ` (known here: ${known.join(', ')})` : ''}`;
      });
    }
    return [`${prefix}${at || '(root)'}: ${issue.message}`];
  });
}
