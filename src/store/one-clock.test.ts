import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStore, storeKinds, type TestStore } from '../../test/stores.ts';

// src/clock.ts: one source of time. These two checks fail as soon as the database's clock creeps
// back into a value a query compares — as a column default, or as now() in Usher's SQL.
const DB_CLOCK =
  /\b(now\(\)|current_timestamp|current_date|current_time|localtimestamp|localtime|clock_timestamp\(\)|statement_timestamp\(\)|transaction_timestamp\(\))/i;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'client' ? [] : sourceFiles(path);
    return /\.(ts|sql)$/.test(e.name) && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe.each(storeKinds)('one clock on %s', (kind) => {
  let store: TestStore;
  beforeAll(async () => {
    store = await openTestStore(kind);
  });
  afterAll(() => store.close());

  it('no column takes its time from the database clock by default', async () => {
    const result = await store.db.query<{ col: string; def: string }>(
      `select table_name || '.' || column_name as col, column_default as def
         from information_schema.columns where table_schema = 'public' and column_default is not null`,
    );
    // schema_migrations.applied_at is written by migrate() before Usher has a clock, and nothing compares it.
    const offenders = result.rows.filter((r) => DB_CLOCK.test(r.def) && r.col !== 'schema_migrations.applied_at');
    expect(offenders).toEqual([]);
  });
});

/** The SQL a file runs: a .sql file whole (less comments), or the string literals of a .ts file that read as SQL. */
function sqlOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  if (file.endsWith('.sql')) return [text.replace(/--.*$/gm, '')];
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const literals = code.match(/`[^`]*`|'(?:[^'\\\n]|\\.)*'/g) ?? [];
  return literals.filter((l) => /\b(select|insert|update|delete|values|default)\b/i.test(l));
}

describe('one clock in the code', () => {
  it('no SQL Usher runs reads the database clock (migrations 0001–0006 predate the rule; 0007 removed their defaults)', () => {
    const src = fileURLToPath(new URL('..', import.meta.url));
    const offenders = sourceFiles(src)
      // store-health.ts reads the database's clock only to show how far it is from Usher's (usher doctor).
      .filter((f) => !/migrations\/000[1-6]_/.test(f) && !f.endsWith('migrate.ts') && !f.endsWith('store-health.ts'))
      .filter((f) => sqlOf(f).some((sql) => DB_CLOCK.test(sql)))
      .map((f) => f.slice(src.length));
    expect(offenders).toEqual([]);
  });
});
