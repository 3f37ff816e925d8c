import { type Command, InvalidArgumentError } from 'commander';
import type { Config, Env } from '../config.ts';
import type { Operations } from '../operations/operations.ts';
import { type AccessOptions, config, withOperations } from './cli-support.ts';
import { Output } from './output.ts';

/** What every command's action gets: the environment, its configuration and how to answer. */
export interface CommandContext {
  env: Env;
  /** The configuration (secrets required only for the commands that serve). */
  config(requireSecrets?: boolean): Config;
  /** How to answer, from the command's --json and the clinic's time zone. */
  output(command: Command): Output;
  /** The operations, on the store beside us or through USHER_ADMIN_URL. */
  withOperations<T>(fn: (ops: Operations) => Promise<T>, options?: AccessOptions): Promise<T>;
}

export function commandContext(env: Env): CommandContext {
  let loaded: Config | undefined;
  const cfg = (requireSecrets = false) => {
    if (requireSecrets) return config(env, true);
    loaded ??= config(env, false);
    return loaded;
  };
  return {
    env,
    config: cfg,
    output: (command) => new Output({ json: command.optsWithGlobals().json === true, timeZone: () => cfg().timeZone }),
    withOperations: (fn, options) => withOperations(cfg(), fn, options),
  };
}

/** `--limit 50`: a whole number in range, refused before any work otherwise. */
export function wholeNumber(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return n;
  };
}

export function dateOrTime(value: string): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value) || !Number.isNaN(Date.parse(value))) return value;
  throw new InvalidArgumentError('must be a date (YYYY-MM-DD) or an ISO time (2026-12-01T14:00:00Z)');
}

export function isoTime(value: string): string {
  if (/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value) && !Number.isNaN(Date.parse(value))) return new Date(value).toISOString();
  throw new InvalidArgumentError('must be an ISO time with its offset, e.g. 2026-12-01T14:00:00Z or 2026-12-01T14:00+01:00');
}

/** The examples under a command's --help. */
export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}
