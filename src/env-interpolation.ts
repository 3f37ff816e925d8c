import type { Env } from './env.ts';

const REFERENCE = /\$\{([A-Z_][A-Z0-9_]*)\}/g;

/**
 * `${NAME}` in a config string becomes the environment variable NAME, so that secrets (board tokens,
 * automation credentials) stay out of the YAML file. An unset variable is a fault, not an empty
 * string: a silently empty token or header is worse than refusing to start.
 */
export function interpolateEnv(value: string, env: Env, path: string): { value: string; faults: string[] } {
  const faults: string[] = [];
  const result = value.replace(REFERENCE, (_match, name: string) => {
    const found = env[name];
    if (found === undefined || found === '') {
      faults.push(`${path}: environment variable ${name} is not set`);
      return '';
    }
    return found;
  });
  return { value: result, faults };
}

/** Whether a string names an environment variable (its value is then a secret, not config). */
export function referencesEnv(value: string): boolean {
  return new RegExp(REFERENCE.source).test(value);
}
