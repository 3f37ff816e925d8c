#!/usr/bin/env node
// `npm test`: the whole suite, then two cheaper lanes that guard what the main run cannot see.
//
//  1. main       every test, on Usher's own embedded PostgreSQL 18 (test/global-setup.ts starts one
//                server for the run) and Debian's Chromium for the board.
//  2. postgres15 the migrations and the end-to-end tests against Debian's PostgreSQL 15 through
//                DATABASE_URL: users' own servers are older than the embedded one (DESIGN §4).
//  3. dates      the tests where a date meets the database (the worker's queues, the gate's periods,
//                rooms around "now", the sandbox's real clock) under faketime at three dates: before
//                the tests' fake clock starts, a year after it, and in 2031. One clock (src/clock.ts)
//                means the suite passes on any date; this lane proves it on every run, at a quarter
//                of the cost of running everything three more times. The demo's board is also run
//                either side of midnight (HOURS).
//
// Arguments go to vitest and run the main lane only (`npm test -- src/gate`). USHER_TEST_LANES picks
// lanes (e.g. `main,dates`). Debian's packages are installed when missing and the user is root.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const isRoot = process.getuid?.() === 0;
const mayInstall = isRoot && existsSync('/usr/bin/apt-get') && process.env.USHER_TEST_NO_INSTALL !== '1';
const args = process.argv.slice(2);
const lanes = new Set((process.env.USHER_TEST_LANES ?? (args.length ? 'main' : 'main,postgres15,dates')).split(','));

const COMPAT_FILES = [
  'src/store/',
  'test/end-to-end.test.ts',
  'test/gate-end-to-end.test.ts',
  'test/rooms-end-to-end.test.ts',
  'test/clock-skew.test.ts',
  'test/shared-budget.test.ts',
  'test/simulated-week.test.ts',
  // Insights are hand-written SQL over every table (materialized CTEs, multi-array unnest, windows):
  // checked on the oldest server users run too.
  'src/insights/insights-report.test.ts',
  'src/insights/calendar-feed.test.ts',
  // The plan's generation (migration 0014) is triggers and a sequence: room choices kept between
  // decisions rely on them on every server.
  'src/rooms/room-day-cache.test.ts',
  // The board reads by changes with xid8 and pg_snapshot (migration 0017) and shares one computation
  // through a session lock and a table (0018): both on every server.
  'src/board/board-views.test.ts',
  'src/board/board-feed.test.ts',
];
const DATE_FILES = [
  'src/jobs/',
  'src/gate/gate.test.ts',
  'src/rooms/rooms.test.ts',
  'src/store/',
  'test/end-to-end.test.ts',
  'test/clock-skew.test.ts',
];
// Before the fake clock's 2026-12-01 start, a year after it, and years on.
const DATES = ['2026-06-15 10:00:00', '2027-12-01 12:00:00', '2031-03-20 09:30:00'];
// The demo's day is made around the real now, so the demo and its board are also run either side of
// the demo clinic's midnight (Europe/London, UTC in January): a CI run at 23:49 once found the room
// heads without a "next" and the small wall overflowing; a run at 23:56 on a Wednesday found three
// rooms cleaning "until Thu 00:05" on two lines each, and the small wall 10 px too tall.
const HOUR_FILES = ['test/board-demo.test.ts'];
const HOURS = ['2027-01-13 23:56:30', '2027-01-15 00:20:00'];

function log(message) {
  process.stdout.write(`[test] ${message}\n`);
}

function run(cmd, cmdArgs, options = {}) {
  const result = spawnSync(cmd, cmdArgs, { stdio: 'inherit', ...options });
  if (result.status !== 0) throw new Error(`${cmd} ${cmdArgs.join(' ')} exited with ${result.status}`);
}

let aptUpdated = false;
function aptInstall(what, packages) {
  if (!mayInstall) {
    process.stderr.write(
      `[test] ${what} is missing. Install it, e.g. as root:\n         apt-get update && apt-get install -y ${packages.join(' ')}\n`,
    );
    process.exit(2);
  }
  log(`installing ${what} from Debian (apt-get)`);
  if (!aptUpdated) run('apt-get', ['update', '-qq']);
  aptUpdated = true;
  run('apt-get', ['install', '-y', '-qq', ...packages], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

function findPgBin() {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(a) - Number(b));
  return versions[0] ? join(base, versions[0], 'bin') : undefined;
}

/** The board's browser tests drive Debian's Chromium through playwright-core (DESIGN §4). */
function ensureChromium() {
  const path = process.env.USHER_TEST_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(path)) aptInstall('Chromium', ['chromium']);
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

/** Debian's PostgreSQL 15, throwaway and fast (no fsync), as the postgres user when root. */
async function startDebianPostgres() {
  if (!findPgBin()) aptInstall('PostgreSQL 15', ['postgresql-15', 'postgresql-contrib']);
  const bin = findPgBin();
  if (!bin) throw new Error('PostgreSQL still missing after install');
  const dir = mkdtempSync(join(tmpdir(), 'usher-pg15-'));
  const data = join(dir, 'data');
  const port = await freePort();
  const asPg = isRoot
    ? (cmd, a) => run('runuser', ['-u', 'postgres', '--', cmd, ...a], { stdio: 'ignore' })
    : (cmd, a) => run(cmd, a, { stdio: 'ignore' });
  if (isRoot) {
    chmodSync(dir, 0o755);
    const uid = Number(spawnSync('id', ['-u', 'postgres']).stdout.toString().trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres']).stdout.toString().trim());
    chownSync(dir, uid, gid);
  }
  asPg(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
  asPg(join(bin, 'pg_ctl'), [
    '-D',
    data,
    '-l',
    join(dir, 'server.log'),
    '-w',
    '-t',
    '60',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`,
    'start',
  ]);
  log(`PostgreSQL ${bin.split('/').at(-2)} started on 127.0.0.1:${port}`);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop() {
      try {
        asPg(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function vitest(vitestArgs, env = {}, prefix = []) {
  return new Promise((resolve) => {
    const [cmd, ...rest] = [...prefix, process.execPath, 'node_modules/vitest/vitest.mjs', 'run', ...vitestArgs];
    // A lane under faketime runs at its own date even when the whole suite already runs under
    // faketime (a far-date run): libfaketime inside libfaketime adds the offsets (a lane meant for
    // 2027-01-15 ran in 2022), so the inherited one is left out.
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => prefix[0] !== 'faketime' || !(k === 'LD_PRELOAD' || k.startsWith('FAKETIME'))),
    );
    const child = spawn(cmd, rest, { stdio: 'inherit', env: { ...inherited, ...env } });
    const forward = (signal) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

const results = [];
if (lanes.has('main')) {
  ensureChromium();
  log('lane main: the whole suite on the embedded PostgreSQL 18');
  results.push(['main', await vitest(args)]);
}
if (lanes.has('postgres15')) {
  const server = await startDebianPostgres();
  const stop = () => server.stop();
  process.on('exit', stop);
  log('lane postgres15: migrations and end-to-end tests on Debian PostgreSQL 15');
  results.push(['postgres15', await vitest(COMPAT_FILES, { USHER_TEST_DATABASE_URL: server.url, USHER_TEST_LANE: 'PostgreSQL 15' })]);
  stop();
  process.off('exit', stop);
}
if (lanes.has('dates')) {
  if (!existsSync('/usr/bin/faketime')) aptInstall('faketime', ['faketime']);
  for (const date of DATES) {
    log(`lane dates: ${DATE_FILES.join(' ')} at ${date} UTC (faketime)`);
    results.push([`dates ${date}`, await vitest(DATE_FILES, { TZ: 'UTC' }, ['faketime', date])]);
  }
  ensureChromium();
  for (const hour of HOURS) {
    log(`lane dates: ${HOUR_FILES.join(' ')} at ${hour} UTC (faketime)`);
    results.push([`dates ${hour}`, await vitest(HOUR_FILES, { TZ: 'UTC' }, ['faketime', hour])]);
  }
}
for (const [lane, code] of results) log(`${code === 0 ? 'passed' : 'FAILED'}: ${lane}`);
process.exit(results.every(([, code]) => code === 0) ? 0 : 1);
