import type { InboxEvent } from '../store/inbox.ts';
import type { Job } from '../store/jobs.ts';

/** Operators see what arrived, not the raw personal data in it: the body is left out of lists. */
export function presentEvent(e: InboxEvent, withBody = false) {
  return {
    id: `evt_${e.id}`,
    trigger: e.trigger,
    bookingUid: e.bookingUid,
    source: e.source,
    state: e.state,
    attempts: e.attempts,
    maxAttempts: e.maxAttempts,
    receivedAt: e.receivedAt,
    runAt: e.runAt,
    lastError: e.lastError,
    finishedAt: e.finishedAt,
    ...(withBody ? { body: safeJson(e.rawBody) } : {}),
  };
}

export function presentJob(j: Job) {
  return {
    id: `job_${j.id}`,
    kind: j.kind,
    bookingUid: j.bookingUid,
    coalesceKey: j.coalesceKey,
    priorityAt: j.priorityAt,
    state: j.state,
    attempts: j.attempts,
    maxAttempts: j.maxAttempts,
    runAt: j.runAt,
    lastError: j.lastError,
    lastResponse: j.lastResponse,
    payload: j.payload,
    createdAt: j.createdAt,
    finishedAt: j.finishedAt,
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export type PresentedEvent = ReturnType<typeof presentEvent>;
export type PresentedJob = ReturnType<typeof presentJob>;
