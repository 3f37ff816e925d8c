import { z } from 'zod';
import type { CalBooking, CalClient, Endpoint } from '../cal/api-client.ts';
import type { BucketLimit } from '../cal/rate-limiter.ts';
import { isUsherError, UsherError } from '../errors.ts';
import type { Job } from '../store/jobs.ts';
import type { JobHandler } from './worker.ts';

export const calJobKinds = {
  confirm: 'cal.confirm',
  decline: 'cal.decline',
  cancel: 'cal.cancel',
  location: 'cal.location',
  series: 'cal.check_series',
} as const;

/** Which Cal.com endpoint (and so which rate buckets) each kind calls: the board's estimates need it. */
export const calJobEndpoints: Readonly<Record<string, Endpoint>> = {
  [calJobKinds.confirm]: 'bookings.confirm',
  [calJobKinds.decline]: 'bookings.decline',
  [calJobKinds.cancel]: 'bookings.cancel',
  [calJobKinds.location]: 'bookings.location',
  [calJobKinds.series]: 'bookings.list',
};

/** The rate buckets each Cal.com kind's calls spend, as the limiter names them (worker.ts sharedBudgets). */
export function calJobBudgets(limiter: { bucketsFor(endpoint: Endpoint): BucketLimit[] }): Map<string, BucketLimit[]> {
  return new Map(Object.entries(calJobEndpoints).map(([kind, endpoint]) => [kind, limiter.bucketsFor(endpoint)]));
}

const uidOnly = z.object({ uid: z.string().min(1) });
const withReason = uidOnly.extend({ reason: z.string().min(1) });
// `endsAt`: when the booking ends (jobs written before it was carried have none).
const withAddress = uidOnly.extend({ address: z.string().min(1), endsAt: z.iso.datetime({ offset: true }).optional() });

const seriesCheck = uidOnly.extend({
  from: z.iso.datetime({ offset: true }),
  attendeeEmail: z.string().optional(),
  eventTypeId: z.number().int().optional(),
});

function payloadOf<T>(schema: z.ZodType<T>, job: Job): T {
  const parsed = schema.safeParse(job.payload);
  if (!parsed.success) throw new UsherError('PAYLOAD_INVALID', `job ${job.id} payload: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

/**
 * CONTRACT §4.2: confirming or declining a booking that is no longer pending answers 400 with a
 * generic message. Rather than trust the text, ask Cal.com for the booking: if a person confirmed,
 * declined or cancelled it meanwhile, their decision stands and the job is done ("respected").
 */
async function unlessDecidedElsewhere(
  client: CalClient,
  uid: string,
  call: () => Promise<{ uid: string; status: string }>,
  settled: (status: string) => boolean = (s) => s !== 'pending',
) {
  try {
    const booking = await call();
    return { uid: booking.uid, status: booking.status };
  } catch (error) {
    if (!isUsherError(error, 'CAL_API_ERROR')) throw error;
    const current = await client.getBooking(uid).catch(() => undefined);
    if (!current || !settled(current.status)) throw error;
    return { uid, status: current.status, respected: true, calAnswer: error.message };
  }
}

/** The outbox's Cal.com calls. Each answer is kept (status, location) as the job's last response. */
export interface CalJobHooks {
  /** Cal.com accepted a location: the rooms record that it shows the current room. */
  onLocationWritten?: (uid: string, address: string) => Promise<void>;
  /** The cancelled bookings of a series as Cal.com lists them: fed to the inbox where Usher differs. */
  onSeriesListed?: (bookings: readonly CalBooking[]) => Promise<number>;
}

export function calJobHandlers(client: CalClient, hooks: CalJobHooks = {}): Record<string, JobHandler> {
  return {
    // handleCancelBooking cancels the rest of a series with one BOOKING_CANCELLED, for the occurrence
    // the person chose, and an updateMany for the later ones (cancelSubsequentBookings or
    // allRemainingBookings): Usher asks which of the attendee's later bookings of the type are
    // cancelled, so their rooms and credits are freed now rather than at the next reconcile.
    [calJobKinds.series]: async (job) => {
      const { uid, from, attendeeEmail, eventTypeId } = payloadOf(seriesCheck, job);
      const { bookings } = await client.listBookings({
        status: ['cancelled'],
        afterStart: new Date(from),
        ...(attendeeEmail ? { attendeeEmail } : {}),
        ...(eventTypeId !== undefined ? { eventTypeId } : {}),
        take: 250,
      });
      const others = bookings.filter((b) => b.uid !== uid);
      const fed = (await hooks.onSeriesListed?.(others)) ?? 0;
      return { uid, cancelledInCal: others.length, fed };
    },
    [calJobKinds.confirm]: async (job) => {
      const { uid } = payloadOf(uidOnly, job);
      return unlessDecidedElsewhere(client, uid, () => client.confirmBooking(uid));
    },
    [calJobKinds.decline]: async (job) => {
      const { uid, reason } = payloadOf(withReason, job);
      return unlessDecidedElsewhere(client, uid, () => client.declineBooking(uid, reason));
    },
    [calJobKinds.cancel]: async (job) => {
      const { uid, reason } = payloadOf(withReason, job);
      // A crash between Cal.com's answer and the job's "done" sends the cancel again, and Cal.com
      // refuses a cancelled booking (400): that refusal means the work is done, not failed.
      return unlessDecidedElsewhere(
        client,
        uid,
        () => client.cancelBooking(uid, reason),
        (status) => status === 'cancelled',
      );
    },
    [calJobKinds.location]: async (job, ctx) => {
      const { uid, address, endsAt } = payloadOf(withAddress, job);
      // A booking that has ended is history: writing its room would change a past record in
      // Cal.com and spend one of five location calls a minute on nobody. The job ends saying so.
      if (endsAt && Date.parse(endsAt) <= ctx.now.getTime())
        return { uid, skipped: 'the booking had ended; its location in Cal.com was left as it was' };
      const booking = await client.updateLocation(uid, address);
      await hooks.onLocationWritten?.(uid, address);
      return { uid: booking.uid, location: booking.location ?? null };
    },
  };
}
