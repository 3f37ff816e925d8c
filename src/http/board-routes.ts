import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { BoardAuth, type Viewer } from '../board/board-auth.ts';
import type { BoardFeed } from '../board/board-feed.ts';
import type { BoardView } from '../board/board-view.ts';
import { boardAssets, type Asset } from '../board/client-assets.ts';
import { errorBody, httpStatusOf, UsherError } from '../errors.ts';
import { INSIGHTS_TABLES, insightsCsv, insightsQuery } from '../insights/insights-report.ts';
import { whatIfQuery } from '../insights/what-if.ts';
import type { Operations } from '../operations/operations.ts';
import type { PresentedReplan } from '../operations/present-replan.ts';
import type { BookingPresenter } from '../rooms/room-board.ts';
import { getBookings } from '../store/bookings.ts';
import type { Db } from '../store/db.ts';

export interface BoardRouteOptions {
  db: Db;
  auth: BoardAuth;
  feed: BoardFeed<BoardView>;
  title: string;
  present: BookingPresenter;
  now: () => Date;
  /** The same operations as the admin API and the CLI, done as the signed-in person. */
  ops: Operations;
  timeZone: string;
  /** The board of another day (YYYY-MM-DD in the clinic's zone), computed on request. */
  dayView: (date: string) => Promise<unknown>;
  wakeWorker: () => void;
}

// No inline script or style anywhere: the policy can forbid both.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, styleTag: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><link rel="icon" href="data:,">${styleTag}</head>
<body>${body}</body></html>`;
}

function signInPage(title: string, style: Asset, error?: string): string {
  return page(
    `Sign in · ${title}`,
    `<link rel="stylesheet" href="/board/board.css?v=${style.etag.slice(1, 9)}">`,
    `<main class="sign-in">
  <h1>${escapeHtml(title)}</h1>
  <p>Room board. Sign in with your Usher token.</p>
  <form method="post" action="/board/sign-in">
    <label for="token">Token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
    ${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
    <button type="submit">Sign in</button>
  </form>
</main>`,
  );
}

const isoInstant = z
  .string()
  .refine((v) => !Number.isNaN(Date.parse(v)), 'an ISO time')
  .transform((v) => new Date(v));
const blockBody = z
  .object({
    reason: z.string().trim().min(1, 'give a reason').max(200),
    /** Planned maintenance starts later; absent: now. */
    from: isoInstant.optional(),
    until: isoInstant,
    /** Show what the block would move, and save nothing. */
    preview: z.boolean().optional(),
  })
  .strict();
const moveBody = z.object({ room: z.string().min(1).max(40) }).strict();
const approveBody = z.object({ note: z.string().max(500).optional(), charge: z.boolean().optional() }).strict();
const declineBody = z.object({ reason: z.string().trim().min(1, 'give the booker a reason').max(500) }).strict();

/**
 * The room board: the page, its live feed (server-sent events) and the front desk's actions. Every
 * action runs the same operations as the admin API and the webhooks, as the signed-in person.
 */
export async function boardRoutes(app: FastifyInstance, o: BoardRouteOptions): Promise<void> {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  // Every answer of this plugin: the security headers, and no caching unless a route says otherwise.
  app.addHook('onSend', async (_req, reply) => {
    reply.headers(SECURITY_HEADERS);
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  });

  const viewer = async (req: FastifyRequest, reply: FastifyReply): Promise<Viewer | undefined> => {
    const v = await o.auth.viewer(req, o.now());
    if (!v) {
      await reply.code(httpStatusOf('UNAUTHORIZED')).send(errorBody('UNAUTHORIZED', 'sign in at /board first'));
      return undefined;
    }
    return v;
  };
  /** Staff reading (a GET: no CSRF token, nothing changes): the insights and their CSV downloads. */
  const staffReader = async (req: FastifyRequest, reply: FastifyReply): Promise<Viewer | undefined> => {
    const v = await viewer(req, reply);
    if (v && v.role !== 'staff') {
      await reply.code(httpStatusOf('FORBIDDEN')).send(errorBody('FORBIDDEN', 'insights are for staff sign-ins'));
      return undefined;
    }
    return v;
  };
  /** Staff, with the CSRF token: the only way to change anything from the board. */
  const staff = async (req: FastifyRequest, reply: FastifyReply): Promise<Viewer | undefined> => {
    const v = await viewer(req, reply);
    if (!v) return undefined;
    if (v.role !== 'staff') {
      await reply.code(httpStatusOf('FORBIDDEN')).send(errorBody('FORBIDDEN', 'this sign-in can view the board, not act on it'));
      return undefined;
    }
    if (!BoardAuth.sameSite(req, v)) {
      await reply.code(httpStatusOf('CSRF')).send(errorBody('CSRF', 'missing or wrong CSRF token; reload the board'));
      return undefined;
    }
    return v;
  };

  const serveAsset = async (req: FastifyRequest, reply: FastifyReply, pick: (a: Awaited<ReturnType<typeof boardAssets>>) => Asset) => {
    const a = pick(await boardAssets());
    // Revalidated on each load (the ETag makes that a 304): a new Usher's page is never stale.
    reply.header('etag', a.etag).header('cache-control', 'no-cache');
    if (req.headers['if-none-match'] === a.etag) return reply.code(304).send();
    return reply.header('content-type', a.type).send(a.body);
  };
  app.get('/board/app.js', (req, reply) => serveAsset(req, reply, (a) => a.script));
  app.get('/board/insights.js', (req, reply) => serveAsset(req, reply, (a) => a.insights));
  app.get('/board/board.css', (req, reply) => serveAsset(req, reply, (a) => a.style));

  app.get('/board', async (req, reply) => {
    const { script, style } = await boardAssets();
    const v = await o.auth.viewer(req, o.now());
    reply.header('content-type', 'text/html; charset=utf-8');
    if (!v)
      return reply.send(
        signInPage(o.title, style, o.auth.enabled ? undefined : 'The board is disabled: set USHER_ADMIN_TOKEN or board.users.'),
      );
    const v8 = (a: Asset) => a.etag.slice(1, 9);
    return reply.send(
      page(
        o.title,
        `<link rel="stylesheet" href="/board/board.css?v=${v8(style)}"><script type="module" src="/board/app.js?v=${v8(script)}"></script>`,
        `<div id="app"><p class="loading">Loading the board…</p></div>`,
      ),
    );
  });

  // Insights: a page of its own (staff; the page says so to a view-only sign-in).
  app.get('/board/insights', async (req, reply) => {
    const { insights, style } = await boardAssets();
    reply.header('content-type', 'text/html; charset=utf-8');
    if (!(await o.auth.viewer(req, o.now()))) return reply.code(303).header('location', '/board').send();
    const v8 = (a: Asset) => a.etag.slice(1, 9);
    return reply.send(
      page(
        `Insights · ${o.title}`,
        `<link rel="stylesheet" href="/board/board.css?v=${v8(style)}"><script type="module" src="/board/insights.js?v=${v8(insights)}"></script>`,
        `<div id="app"><p class="loading">Loading the figures…</p></div>`,
      ),
    );
  });

  app.post('/board/sign-in', async (req, reply) => {
    const { style } = await boardAssets();
    reply.header('content-type', 'text/html; charset=utf-8');
    const wait = o.auth.throttled(req, o.now().getTime());
    if (wait > 0)
      return reply
        .code(429)
        .header('retry-after', String(wait))
        .send(signInPage(o.title, style, 'Too many wrong tokens from here. Wait a few minutes and try again.'));
    const token =
      typeof (req.body as { token?: unknown } | undefined)?.token === 'string' ? (req.body as { token: string }).token.trim() : '';
    const v = await o.auth.signIn(req, reply, token, o.now());
    if (!v) return reply.code(401).send(signInPage(o.title, style, 'That token is not valid.'));
    return reply.code(303).header('location', '/board').send();
  });

  app.post('/board/sign-out', async (req, reply) => {
    const v = await viewer(req, reply);
    if (!v) return;
    if (!BoardAuth.sameSite(req, v)) return reply.code(httpStatusOf('CSRF')).send(errorBody('CSRF', 'missing or wrong CSRF token'));
    await o.auth.signOut(req, reply);
    return { data: { signedOut: true } };
  });

  app.get('/board/api/session', async (req, reply) => {
    const v = await viewer(req, reply);
    if (!v) return;
    // The server's time: a wall tablet's own clock is often minutes off, and the board must agree with Usher.
    return {
      data: { name: v.name, role: v.role, csrfToken: v.csrfToken, title: o.title, timeZone: o.timeZone, now: o.now().toISOString() },
    };
  });

  // Another day than today: the page asks again whenever the live view changes, so it stays current.
  app.get('/board/api/day', async (req, reply) => {
    const v = await viewer(req, reply);
    if (!v) return;
    const { date } = z
      .object({
        date: z
          .string()
          .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date, YYYY-MM-DD')
          .refine(
            (d) => !Number.isNaN(Date.parse(`${d}T12:00:00Z`)) && new Date(`${d}T12:00:00Z`).toISOString().startsWith(d),
            'a real date',
          ),
      })
      .parse(req.query);
    return { data: await o.dayView(date) };
  });

  app.get('/board/events', async (req, reply) => {
    const v = await viewer(req, reply);
    if (!v) return;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    // A dropped connection comes back after a second; the first message after it is the whole view.
    res.write('retry: 1000\n\n');
    let sent = 0;
    let heartbeat: NodeJS.Timeout | undefined;
    let unsubscribe: (() => void) | undefined;
    let closed = false;
    // The response's close (the request's fires as soon as its body is read, which for a GET is at
    // once). Listened for first: the first view can take a while to compute, and a viewer gone by
    // then must not stay subscribed (and recomputed for) for ever.
    res.on('close', () => {
      closed = true;
      clearInterval(heartbeat);
      unsubscribe?.();
    });
    unsubscribe = await o.feed.subscribe((message) => {
      // A viewer that stopped reading (a sleeping tablet) is dropped rather than buffered without
      // end; its browser reconnects and gets the whole view anyway.
      if (res.writableLength > 4 * 1024 * 1024) return res.destroy();
      res.write(`id: ${++sent}\nevent: ${message.event}\ndata: ${message.data}\n\n`);
    });
    if (closed) return unsubscribe();
    heartbeat = setInterval(() => res.write(': still here\n\n'), 15_000);
  });

  app.get('/board/api/insights', async (req, reply) => {
    if (!(await staffReader(req, reply))) return;
    return { data: await o.ops.insights(insightsQuery.parse(req.query)) };
  });
  app.get('/board/api/insights.csv', async (req, reply) => {
    if (!(await staffReader(req, reply))) return;
    const { table, ...q } = z
      .object({ table: z.enum(INSIGHTS_TABLES).default('rooms') })
      .loose()
      .parse(req.query);
    const report = await o.ops.insights(insightsQuery.parse(q));
    return reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="usher-${table}-${report.from}-${report.to}.csv"`)
      .send(insightsCsv(report, table));
  });
  // A replay reads only, but runs for seconds: a POST with the CSRF token, so no page elsewhere can start one.
  app.post('/board/api/what-if', async (req, reply) => {
    if (!(await staff(req, reply))) return;
    return { data: await o.ops.whatIf(whatIfQuery.parse(req.body)) };
  });

  const done = <T>(value: T) => {
    o.wakeWorker();
    return { data: value };
  };
  const uidParam = z.object({ uid: z.string().min(1).max(200) });
  const roomParam = z.object({ name: z.string().min(1).max(40) });

  app.post('/board/api/rooms/:name/block', async (req, reply) => {
    const v = await staff(req, reply);
    if (!v) return;
    const { name } = roomParam.parse(req.params);
    const body = blockBody.parse(req.body);
    const now = o.now();
    if (body.until <= now) throw new UsherError('BAD_REQUEST', 'until: must be in the future');
    const from = body.from && body.from > now ? body.from : now;
    if (body.until <= from) throw new UsherError('BAD_REQUEST', 'until: must be after the start');
    const { blockId, plan, preview } = await o.ops.blockRoom(name, {
      from: from.toISOString(),
      until: body.until.toISOString(),
      reason: body.reason,
      by: v.name,
      preview: body.preview === true,
    });
    const answer = { blockId, plan: { ...plan, moves: await labelled(plan.moves) }, ...(preview ? { preview } : {}) };
    return preview ? { data: answer } : done(answer);
  });

  app.post('/board/api/blocks/:id/unblock', async (req, reply) => {
    const v = await staff(req, reply);
    if (!v) return;
    const { id } = z.object({ id: z.coerce.number().int().positive() }).parse(req.params);
    const { plan } = await o.ops.unblockRoom(id, v.name);
    return done({ plan: { ...plan, moves: await labelled(plan.moves) } });
  });

  app.post('/board/api/blocks/:id/change', async (req, reply) => {
    const v = await staff(req, reply);
    if (!v) return;
    const { id } = z.object({ id: z.coerce.number().int().positive() }).parse(req.params);
    const body = blockBody.parse(req.body);
    const from = body.from ?? o.now();
    const changed = await o.ops.changeBlock(id, {
      from: from.toISOString(),
      until: body.until.toISOString(),
      reason: body.reason,
      by: v.name,
      preview: body.preview === true,
    });
    const answer = {
      blockId: changed.blockId,
      plan: { ...changed.plan, moves: await labelled(changed.plan.moves) },
      ...(changed.preview ? { preview: true } : {}),
    };
    return changed.preview ? { data: answer } : done(answer);
  });

  app.post('/board/api/rooms/:name/cleaned', async (req, reply) => {
    const v = await staff(req, reply);
    if (!v) return;
    const { name } = roomParam.parse(req.params);
    return done(await o.ops.markCleaned(name, v.name));
  });

  // A read: any signed-in viewer (no CSRF token on a GET); only staff can act on the answer.
  app.get('/board/api/bookings/:uid/rooms', async (req, reply) => {
    const v = await viewer(req, reply);
    if (!v) return;
    const { uid } = uidParam.parse(req.params);
    return { data: await o.ops.roomOptions(uid) };
  });

  app.post('/board/api/bookings/:uid/move', async (req, reply) => {
    const v = await staff(req, reply);
    if (!v) return;
    const { uid } = uidParam.parse(req.params);
    const { room } = moveBody.parse(req.body);
    return done(await o.ops.moveBooking(uid, { room, by: v.name }));
  });

  app.post('/board/api/bookings/:uid/approve', async (req, reply) => {
    const v = await staff(req, reply);
    if (!v) return;
    const { uid } = uidParam.parse(req.params);
    const body = approveBody.parse(req.body ?? {});
    return done(await o.ops.approve(uid, { ...body, by: v.name }));
  });

  app.post('/board/api/bookings/:uid/decline', async (req, reply) => {
    const v = await staff(req, reply);
    if (!v) return;
    const { uid } = uidParam.parse(req.params);
    const body = declineBody.parse(req.body);
    return done(await o.ops.decline(uid, { reason: body.reason, by: v.name }));
  });

  app.post('/board/api/replay/:ref', async (req, reply) => {
    const v = await staff(req, reply);
    if (!v) return;
    const { ref } = z.object({ ref: z.string().min(1).max(40) }).parse(req.params);
    const result = await o.ops.replay(ref);
    req.log.info({ ref, by: v.name }, 'replayed from the board');
    return done({ ref, state: result.state });
  });

  /** Moves as the desk reads them: the booking's title and initials beside its uid. */
  async function labelled(moves: PresentedReplan['moves']) {
    const bookings = await getBookings(
      o.db,
      moves.map((m) => m.uid),
    );
    return moves.map((m) => ({
      ...m,
      label: o.present.label(bookings.get(m.uid)),
      start: bookings.get(m.uid)?.start.toISOString() ?? null,
    }));
  }
}
