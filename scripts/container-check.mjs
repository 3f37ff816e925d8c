#!/usr/bin/env node
// The Dockerfile's steps, run as a script: no container engine runs on these machines (README:
// "Running in a container"), so CI proves the image's recipe this way instead of `docker build`.
//   1. a clean copy of what COPY takes (git archive of HEAD, .dockerignore's exclusions),
//   2. the production install (`npm ci --omit=dev`),
//   3. `usher serve` as an unprivileged user (the image's `node`; here a throwaway system user when
//      run as root) with the image's environment (HOST=0.0.0.0, a data volume, no DATABASE_URL),
//   4. the HEALTHCHECK command until it passes, a signed webhook accepted, then SIGTERM: exit 0 and
//      the embedded server stopped.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const step = (m) => process.stdout.write(`[container-check] ${m}\n`);
const dir = mkdtempSync(join(tmpdir(), 'usher-image-'));
chmodSync(dir, 0o755);
const app = join(dir, 'app');
const data = join(dir, 'data');
let child;
try {
  step('clean copy of HEAD');
  mkdirSync(app);
  execFileSync('sh', ['-c', `git -C "${root}" archive HEAD | tar -x -C "${app}"`]);
  for (const gone of ['node_modules', '.git', 'test-artifacts'])
    if (existsSync(join(app, gone))) throw new Error(`${gone} in the image's context`);
  step('production install: npm ci --omit=dev');
  execFileSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], { cwd: app, stdio: 'inherit' });
  if (existsSync(join(app, 'node_modules', 'vitest'))) throw new Error('a dev dependency was installed');
  step("the sources compiled as the image's build does: node bin/usher.mjs --version");
  execFileSync(process.execPath, ['bin/usher.mjs', '--version'], { cwd: app, stdio: 'ignore' });
  mkdirSync(data);
  const asRoot = process.getuid?.() === 0;
  let ids = {};
  if (asRoot) {
    if (spawnSync('id', ['-u', 'usher-image']).status !== 0)
      execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'usher-image']);
    ids = {
      uid: Number(execFileSync('id', ['-u', 'usher-image']).toString()),
      gid: Number(execFileSync('id', ['-g', 'usher-image']).toString()),
    };
    chownSync(data, ids.uid, ids.gid);
  }
  const port = 3000 + Math.floor(Math.random() * 2000) + 20000;
  const secret = 'whsec_container_check_0123456789';
  const env = {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    HOST: '0.0.0.0',
    PORT: String(port),
    USHER_DATA_DIR: data,
    CAL_WEBHOOK_SECRET: secret,
    USHER_ADMIN_TOKEN: 'container-check-admin-token-0123',
    LOG_LEVEL: 'warn',
    HOME: dir,
  };
  // The unprivileged user cannot write node_modules: it must find the image's compiled copy current.
  const compiled = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', "const m = await import('./bin/compiled-sources.mjs'); process.exit(m.compiledCopy() ? 0 : 1)"],
    { cwd: app, env, ...ids },
  );
  if (compiled.status !== 0) throw new Error(`the image's compiled sources are not usable by the user that runs it: ${compiled.stderr}`);
  step('the compiled sources are current for that user');
  step(`usher serve as ${asRoot ? 'the unprivileged user usher-image' : 'this user'}, HOST=0.0.0.0, data in a volume`);
  child = spawn(process.execPath, ['bin/usher.mjs', 'serve'], { cwd: app, env, ...ids, stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const healthcheck = `fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`;
  const deadline = Date.now() + 60_000;
  while (spawnSync(process.execPath, ['-e', healthcheck], { env: { PORT: String(port) } }).status !== 0) {
    if (child.exitCode !== null) throw new Error('usher serve exited before it was healthy');
    if (Date.now() > deadline) throw new Error('HEALTHCHECK never passed');
    await new Promise((r) => setTimeout(r, 250));
  }
  step('HEALTHCHECK passes');
  const body = JSON.stringify({ triggerEvent: 'PING', createdAt: new Date().toISOString(), payload: {} });
  const res = await fetch(`http://127.0.0.1:${port}/webhooks/cal`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-cal-signature-256': createHmac('sha256', secret).update(body).digest('hex') },
    body,
  });
  if (res.status !== 200) throw new Error(`a signed webhook got ${res.status}`);
  step('a signed webhook is accepted and stored');
  child.kill('SIGTERM');
  const code = await exited;
  if (code !== 0) throw new Error(`usher serve exited with ${code} on SIGTERM`);
  if (existsSync(join(data, 'postgres', 'postmaster.pid'))) throw new Error('the embedded server is still running after a clean stop');
  step('SIGTERM: exit 0, the embedded server stopped');
  step('passed');
} catch (error) {
  child?.kill('SIGKILL');
  process.stderr.write(`[container-check] FAILED: ${error.message}\n`);
  process.exitCode = 1;
} finally {
  const pid = join(data, 'postgres', 'postmaster.pid');
  if (existsSync(pid)) {
    try {
      process.kill(Number(readFileSync(pid, 'utf8').split('\n')[0]), 'SIGTERM');
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
}
