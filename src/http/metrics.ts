import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../store/db.ts';
import { countInboxByState, oldestPendingInboxAge } from '../store/inbox.ts';
import { countJobsByState } from '../store/jobs.ts';

export type WebhookResult =
  | 'accepted'
  | 'duplicate'
  | 'ignored'
  | 'unprocessable'
  | 'rejected_signature'
  | 'invalid_json'
  | 'too_large'
  | 'store_unavailable';

export interface Metrics {
  registry: Registry;
  webhooks: Counter<'result'>;
  calCalls: Counter<'endpoint' | 'status'>;
  calCallSeconds: Histogram<'endpoint'>;
  eventsProcessed: Counter<'state'>;
  jobsProcessed: Counter<'kind' | 'state'>;
  httpSeconds: Histogram<'method' | 'route' | 'status'>;
}

/** One registry per app (not prom-client's global), so tests and several apps in a process stay apart. */
export function createMetrics(db: Db, now: () => Date): Metrics {
  const registry = new Registry();
  // The process itself: CPU, resident memory, heap, event-loop lag, GC, open handles.
  collectDefaultMetrics({ register: registry, prefix: 'usher_' });
  const metrics: Metrics = {
    registry,
    webhooks: new Counter({
      name: 'usher_webhooks_total',
      help: 'Webhook deliveries by result',
      labelNames: ['result'],
      registers: [registry],
    }),
    calCalls: new Counter({
      name: 'usher_cal_api_calls_total',
      help: 'Calls to the Cal.com API by endpoint and HTTP status (none = no answer)',
      labelNames: ['endpoint', 'status'],
      registers: [registry],
    }),
    calCallSeconds: new Histogram({
      name: 'usher_cal_api_call_seconds',
      help: 'Cal.com API call duration',
      labelNames: ['endpoint'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    eventsProcessed: new Counter({
      name: 'usher_events_processed_total',
      help: 'Inbox events handled by outcome',
      labelNames: ['state'],
      registers: [registry],
    }),
    jobsProcessed: new Counter({
      name: 'usher_jobs_processed_total',
      help: 'Outbox job runs by kind and outcome',
      labelNames: ['kind', 'state'],
      registers: [registry],
    }),
    httpSeconds: new Histogram({
      name: 'usher_http_request_duration_seconds',
      help: 'HTTP request duration by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
  new Gauge({
    name: 'usher_jobs',
    help: 'Outbox jobs by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [state, n] of Object.entries(await countJobsByState(db))) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'usher_inbox_events',
    help: 'Inbox events by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [state, n] of Object.entries(await countInboxByState(db))) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'usher_queue_lag_seconds',
    help: 'Age of the oldest inbox event not yet handled',
    registers: [registry],
    async collect() {
      this.set(await oldestPendingInboxAge(db, now()));
    },
  });
  return metrics;
}
