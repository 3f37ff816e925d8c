/**
 * Every text a user writes with placeholders — automation bodies and URLs, the gate's decline
 * messages, the room location written to Cal.com — uses this one syntax: `{{booking.title}}` and
 * nothing else. Data substitution only — no
 * expressions, no helpers, no code — so a config file can never run anything. A JSON template is
 * rendered to a value and serialised once, so quotes, newlines and any Unicode in the data are
 * escaped by JSON.stringify, never by hand.
 */

const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w]*(?:\.[\w-]+)*)\s*\}\}/g;
const WHOLE = /^\{\{\s*([A-Za-z_][\w]*(?:\.[\w-]+)*)\s*\}\}$/;

/** Every placeholder path in a template (strings anywhere inside objects and arrays), and malformed ones. */
export function templatePaths(template: unknown): { paths: string[]; malformed: string[] } {
  const paths: string[] = [];
  const malformed: string[] = [];
  const walk = (value: unknown) => {
    if (typeof value === 'string') {
      const found = [...value.matchAll(PLACEHOLDER)].map((m) => m[1]!);
      paths.push(...found);
      const opened = value.split('{{').length - 1;
      if (opened !== found.length) malformed.push(value);
    } else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object')
      for (const [k, v] of Object.entries(value)) {
        walk(k);
        walk(v);
      }
  };
  walk(template);
  return { paths, malformed };
}

/** Whether `path` is one of `known` (a known entry ending in `.*` admits anything below it). */
export function isKnownPath(path: string, known: readonly string[]): boolean {
  return known.some((k) => (k.endsWith('.*') ? path.startsWith(k.slice(0, -1)) && path.length > k.length - 1 : k === path));
}

export function lookup(context: unknown, path: string): unknown {
  let value: unknown = context;
  for (const key of path.split('.')) {
    // Own properties only: `{{x.__proto__}}` or `{{x.constructor}}` find nothing.
    if (value === null || value === undefined || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function asText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** A text template: each placeholder becomes its value as text (`encode` for URLs). */
export function renderText(template: string, context: unknown, encode: (s: string) => string = (s) => s): string {
  return template.replace(PLACEHOLDER, (_m, path: string) => encode(asText(lookup(context, path))));
}

/**
 * A JSON template: a string that is exactly one placeholder takes the value itself (a number stays
 * a number, a missing value is null); any other string is a text template.
 */
export function renderJson(template: unknown, context: unknown): unknown {
  if (typeof template === 'string') {
    const whole = WHOLE.exec(template);
    if (whole) {
      const value = lookup(context, whole[1]!);
      return value === undefined ? null : value instanceof Date ? value.toISOString() : value;
    }
    return renderText(template, context);
  }
  if (Array.isArray(template)) return template.map((t) => renderJson(t, context));
  if (template && typeof template === 'object')
    return Object.fromEntries(Object.entries(template).map(([k, v]) => [renderText(k, context), renderJson(v, context)]));
  return template;
}

/**
 * The faults of one configured text template whose placeholders may name `fields`: an unknown
 * field, a malformed `{{`, and the single-brace `{x}` of Usher 0.1 (said with the form to write).
 */
export function templateFaults(where: string, template: string, fields: readonly string[]): string[] {
  const faults: string[] = [];
  const { paths, malformed } = templatePaths(template);
  if (malformed.length) faults.push(`${where}: a "{{" without its "}}" in "${template}"`);
  for (const path of paths) {
    if (!isKnownPath(path, fields)) faults.push(`${where}: {{${path}}} is not a field here (fields: ${fields.join(', ') || 'none'})`);
  }
  for (const [whole, name] of template.replace(PLACEHOLDER, '').matchAll(/\{(\w+)\}/g)) {
    faults.push(`${where}: ${whole} is not a placeholder — did you mean {{${name}}}?`);
  }
  return faults;
}
