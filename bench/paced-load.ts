/**
 * An evenly paced load: request i is due at start + i / rate, whatever became of the ones before
 * (an open model, as webhooks arrive: Cal.com does not wait for Usher's last answer before sending
 * the next booking's). Latency counts from when a request was due, so a request held back because
 * every connection was busy counts its wait too.
 *
 * Why not autocannon's `overallRate`: it lets each connection send its share of a second as fast
 * as answers come and then pause until the second ends (httpClient.js `reqsMadeThisSecond`), so
 * "1,000/s over 32 connections" is a burst of 1,000 at the start of every second — a measure of how
 * fast a burst of 1,000 drains, not of a steady 1,000/s.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

export interface PacedRun {
  sent: number;
  /** Requests answered 2xx per second of the run. */
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  non2xx: number;
  errors: number;
}

export interface PacedRequest {
  body: string;
  headers: Record<string, string>;
}

export interface PacedOptions {
  /** Requests per second, evenly apart. */
  rate: number;
  seconds: number;
  /** Keep-alive connections at most; a request due while all are busy waits for one. */
  connections: number;
  path: string;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

export async function pacedLoad(url: string, requests: readonly PacedRequest[], options: PacedOptions): Promise<PacedRun> {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const total = Math.round(options.rate * options.seconds);
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let sent = 0;
  let settled = 0;
  const start = performance.now();
  const dueAt = (i: number) => start + (i * 1000) / options.rate;

  await new Promise<void>((done) => {
    const finish = () => {
      if (++settled === total) done();
    };
    const send = (i: number) => {
      const item = requests[i % requests.length]!;
      const due = dueAt(i);
      const req = http.request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: options.path,
          method: 'POST',
          headers: { ...item.headers, 'content-length': Buffer.byteLength(item.body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) latencies.push(performance.now() - due);
            else non2xx++;
            finish();
          });
        },
      );
      req.on('error', () => {
        errors++;
        finish();
      });
      req.end(item.body);
    };
    // A 1-ms timer sends whatever fell due since the last tick: one or two requests at a time at
    // 1,000/s, never a second's worth at once.
    const tick = () => {
      const now = performance.now();
      while (sent < total && dueAt(sent) <= now) send(sent++);
      if (sent < total) setTimeout(tick, Math.max(0, Math.min(1, dueAt(sent) - performance.now())));
    };
    tick();
  });
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    sent,
    rps: latencies.length / elapsed,
    p50: pct(latencies, 50),
    p99: pct(latencies, 99),
    p999: pct(latencies, 99.9),
    max: latencies.at(-1) ?? 0,
    non2xx,
    errors,
  };
}

/**
 * pacedLoad in a worker thread of its own: the benchmark's process holds ~100,000 signed bodies,
 * and a major collection of that heap (tens of milliseconds) stops its timers and sockets — a delay
 * an open-model measure counts against the server. The thread's heap holds only its own requests.
 */
export function pacedLoadInThread(url: string, requests: readonly PacedRequest[], options: PacedOptions): Promise<PacedRun> {
  // The thread loads this file through tsx's loader, which a worker thread does not inherit.
  const entry = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const worker = new Worker(entry, { eval: true, workerData: { url, requests, options } });
  return new Promise<PacedRun>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the load thread exited (${code}) before its result`)));
  });
}

if (!isMainThread && parentPort && workerData?.requests) {
  const { url, requests, options } = workerData as { url: string; requests: PacedRequest[]; options: PacedOptions };
  parentPort.postMessage(await pacedLoad(url, requests, options));
}
