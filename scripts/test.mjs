#!/usr/bin/env node
// `npm test`: the whole suite on both stores. Starts a throwaway PostgreSQL server for the server
// lane (installing Debian's packages when missing and allowed), runs vitest, and always stops it.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const isRoot = process.getuid?.() === 0;

function log(message) {
  process.stdout.write(`[test] ${message}\n`);
}

function findPgBin() {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : undefined;
}

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { stdio: 'inherit', ...options });
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${result.status}`);
}

function ensurePostgres() {
  let bin = findPgBin();
  if (bin) return bin;
  const mayInstall = isRoot && existsSync('/usr/bin/apt-get') && process.env.USHER_TEST_NO_INSTALL !== '1';
  if (!mayInstall) {
    process.stderr.write(
      '[test] PostgreSQL server binaries are missing. Install them, e.g. as root:\n' +
        '         apt-get update && apt-get install -y postgresql-15 postgresql-contrib\n',
    );
    process.exit(2);
  }
  log('installing PostgreSQL 15 from Debian (apt-get)');
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', 'postgresql-15', 'postgresql-contrib'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  bin = findPgBin();
  if (!bin) throw new Error('PostgreSQL still missing after install');
  return bin;
}

/** The board's browser tests drive Debian's Chromium through playwright-core (DESIGN §4). */
function ensureChromium() {
  const path = process.env.USHER_TEST_CHROMIUM ?? '/usr/bin/chromium';
  if (existsSync(path)) return;
  const mayInstall = isRoot && existsSync('/usr/bin/apt-get') && process.env.USHER_TEST_NO_INSTALL !== '1';
  if (!mayInstall) {
    process.stderr.write(
      `[test] Chromium is missing (${path}). Install it, e.g. as root:\n` +
        '         apt-get update && apt-get install -y chromium\n' +
        '       or point USHER_TEST_CHROMIUM at a Chromium binary.\n',
    );
    process.exit(2);
  }
  log('installing Chromium from Debian (apt-get)');
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', 'chromium'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (!existsSync(path)) throw new Error('Chromium still missing after install');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function startPostgres(bin) {
  const dir = mkdtempSync(join(tmpdir(), 'usher-pg-'));
  const data = join(dir, 'data');
  const port = await freePort();
  // initdb refuses to run as root (DESIGN §4): run the server as the postgres user.
  const asPg = isRoot ? (cmd, args) => run('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: 'ignore' }) : (cmd, args) => run(cmd, args, { stdio: 'ignore' });
  if (isRoot) {
    chmodSync(dir, 0o755);
    const uid = Number(spawnSync('id', ['-u', 'postgres']).stdout.toString().trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres']).stdout.toString().trim());
    chownSync(dir, uid, gid);
  }
  asPg(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
  asPg(join(bin, 'pg_ctl'), [
    '-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60',
    '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`,
    'start',
  ]);
  log(`PostgreSQL started on 127.0.0.1:${port}`);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop() {
      try {
        asPg(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
      log('PostgreSQL stopped');
    },
  };
}

const pgBin = ensurePostgres();
ensureChromium();
const server = await startPostgres(pgBin);
let stopped = false;
const stop = () => {
  if (!stopped) {
    stopped = true;
    server.stop();
  }
};
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => { stop(); process.exit(130); });
process.on('exit', stop);

const vitest = spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, USHER_TEST_DATABASE_URL: server.url },
});
vitest.on('exit', (code, signal) => {
  stop();
  process.exit(code ?? (signal ? 1 : 0));
});
