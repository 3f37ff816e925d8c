import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { UsherError } from '../errors.ts';
import { seedSchema, type Seed } from './sandbox-state.ts';

export const demoSeedPath = fileURLToPath(new URL('../../demo/sandbox.seed.yaml', import.meta.url));

/** Reads a sandbox seed (YAML or JSON); every problem is listed. */
export function loadSeed(path = demoSeedPath): Seed {
  let raw: unknown;
  try {
    raw = parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsherError('CONFIG_INVALID', `sandbox seed ${path}: ${(error as Error).message.split('\n')[0]}`);
  }
  const parsed = seedSchema.safeParse(raw);
  if (!parsed.success) {
    throw new UsherError(
      'CONFIG_INVALID',
      `sandbox seed ${path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}
