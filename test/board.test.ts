import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { subscribeSandbox } from '../src/cli/demo.ts';
import type { Clock } from '../src/clock.ts';
import type { Usher } from '../src/main.ts';
import { loadSeed } from '../src/sandbox/load-seed.ts';
import { Sandbox } from '../src/sandbox/sandbox-server.ts';
import { accessibilityFaults, launchBrowser, screenshot, signIn, type TestBrowser, truncatedWithoutWayToRead, unfit } from './browser.ts';
import { TEST_SECRET } from './config.ts';
import { spawnServe, type ServeProcess } from './serve-process.ts';
import { openTestStore, serverUrl, storeKinds, type TestStore } from './stores.ts';
import { inCal, startTestUsher, tomorrowAt, until } from './usher.ts';

const KEY = 'cal_sandbox_demo_key';
const ANNA = 'anna-token-0123456789abcdef';
const WALL = 'wall-token-0123456789abcdef';
const TOKENS = { BOARD_TOKEN_ANNA: ANNA, BOARD_TOKEN_WALL: WALL };
// The clinic's zone keeps UTC all year (Reykjavik has no summer time), so that the times the test
// books in UTC read the same on the board on any date: in London they are an hour later from March
// to October, which made this test pass only in winter.
const YAML = `
timeZone: Atlantic/Reykjavik
worker: { pollIntervalMs: 20, maxAttempts: 2, backoffBaseSeconds: 0.05, backoffMaxSeconds: 0.1 }
reconciler: { intervalSeconds: 0 }
planner: { freezeMinutes: 5, replanIntervalSeconds: 0 }
gate: { unknownMember: hold }
eventTypes:
  "7": { title: Consultation }
  "8": { title: ECG check }
  "9": { title: Physio, gate: { creditCost: 1 } }
  "10": { title: X-ray, equipment: [xray] }
rooms:
  - { name: "1A", floor: 1, building: "North wing", cleaningMinutes: 10 }
  - { name: "1B", floor: 1, building: "North wing", cleaningMinutes: 20 }
  - { name: "2A", floor: 2, building: "South wing", cleaningMinutes: 10, equipment: [xray] }
doctors:
  "5": { preferredRooms: ["1A"] }
  "6": { preferredRooms: ["1B"] }
board:
  title: Harbour Clinic
  users:
    - { name: Anna, token: "\${BOARD_TOKEN_ANNA}" }
    - { name: Wall screen, token: "\${BOARD_TOKEN_WALL}", role: display }
`;

/** Usher lives at tomorrow 09:40, so that its "today" is a day the sandbox still takes bookings for. */
function tomorrowClock(): Clock {
  const offset = tomorrowAt(9, 40).getTime() - Date.now();
  return { now: () => new Date(Date.now() + offset) };
}

async function book(sandboxUrl: string, at: Date, name: string, eventTypeId = 7): Promise<string> {
  const res = await request(`${sandboxUrl}/v2/bookings`, {
    method: 'POST',
    headers: { 'cal-api-version': '2024-08-13', 'content-type': 'application/json' },
    body: JSON.stringify({
      start: at.toISOString(),
      eventTypeId,
      attendee: { name, email: `${name.split(' ')[0]!.toLowerCase()}@example.com`, timeZone: 'Europe/London' },
    }),
  });
  const body = (await res.body.json()) as { data: { uid: string } };
  if (res.statusCode !== 201) throw new Error(`booking failed: ${JSON.stringify(body)}`);
  return body.data.uid;
}

async function sandboxFaults(sandboxUrl: string, body: unknown) {
  await request(`${sandboxUrl}/_sandbox/faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** A marker that survives only as long as the page is not reloaded. */
const markPage = (page: Page) => page.evaluate(() => ((window as unknown as { usherTestMark: number }).usherTestMark = 42));
const pageMark = (page: Page) => page.evaluate(() => (window as unknown as { usherTestMark?: number }).usherTestMark);

const room = (page: Page, name: string) => page.locator(`article[data-room="${name}"]`);

let browser: TestBrowser;
beforeAll(async () => {
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

describe.each(storeKinds)('the room board in a browser on %s', (kind) => {
  let store: TestStore;
  let sandbox: Sandbox;
  let usher: Usher;
  let page: Page;
  beforeEach(async () => {
    store = await openTestStore(kind);
    sandbox = new Sandbox({ seed: loadSeed(), anonymousRequestsPerMinute: 5000, locationRequestsPerMinute: 1000 });
    await sandbox.listen(0, '127.0.0.1', 0);
    usher = await startTestUsher(store, {
      runWorker: true,
      clock: tomorrowClock(),
      env: { CAL_API_URL: sandbox.url, CAL_API_KEY: KEY, ...TOKENS },
      yaml: YAML,
    });
    await subscribeSandbox(sandbox.url, KEY, usher.url, TEST_SECRET);
    await browser.context.clearCookies();
    page = await browser.context.newPage();
  });
  afterEach(async () => {
    await page.close();
    await sandbox.close();
    await usher.close();
    await store.close();
  });

  it('shows bookings arriving from Cal.com without a reload, and a block from the page moves them with their write-back state', async () => {
    await signIn(page, usher.url, ANNA);
    await expect(page.getByRole('heading', { name: 'Harbour Clinic' }).isVisible()).resolves.toBe(true);
    // The first view can follow "Live" by a moment: wait for the rooms before reading them.
    await page.getByRole('region', { name: 'North wing · Floor 1' }).locator('h3').first().waitFor();
    expect(await page.getByRole('region', { name: 'North wing · Floor 1' }).locator('h3').allTextContents()).toEqual([
      'Room 1A',
      'Room 1B',
    ]);
    expect(await page.getByRole('region', { name: 'South wing · Floor 2' }).locator('h3').allTextContents()).toEqual(['Room 2A']);
    expect(await room(page, '1A').locator('.state').textContent()).toBe('Free · ready');
    await markPage(page);

    // Usher's time is 09:40: an ECG that ended at 09:25 leaves 1B cleaning, an X-ray from 09:30 fills 2A.
    await book(sandbox.url, tomorrowAt(9, 5), 'Ed Early', 8);
    await book(sandbox.url, tomorrowAt(9, 30), 'Ina Use', 10);
    await room(page, '2A').locator('.state', { hasText: 'In use · until 09:45' }).waitFor();
    expect(await room(page, '2A').locator('.detail').textContent()).toBe('X-ray · I. U.');
    await room(page, '1B').locator('.state', { hasText: 'Cleaning · until 09:45' }).waitFor();
    expect(await room(page, '1B').locator('.detail').textContent()).toBe('after ECG check · E. E.');

    const pat = await book(sandbox.url, tomorrowAt(10, 30), 'Pat Doe');
    // The webhook travels sandbox → Usher → NOTIFY → server-sent event → this page.
    await room(page, '1A').getByText('Next 10:30 → Consultation · P. D.').waitFor();
    const sam = await book(sandbox.url, tomorrowAt(11, 15), 'Sam Roe');
    await room(page, '1A')
      .getByRole('button', { name: /11:15 to 11:45, Consultation · S\. R\./ })
      .waitFor();
    await book(sandbox.url, tomorrowAt(16), 'Max More');
    await room(page, '1A')
      .getByRole('button', { name: /16:00 to 16:30, Consultation · M\. M\./ })
      .waitFor();
    expect(await pageMark(page)).toBe(42);
    // Once the worker has written the rooms into Cal.com, the board says so. The ECG had ended when
    // it was booked: its room is on the board, and Cal.com's past booking is left alone.
    await until(
      'rooms written to Cal.com',
      async () => (await page.locator('.slot.booking.unwritten').count()) === 0 && (await page.locator('.slot.booking').count()) === 5,
    );
    expect(await page.getByText('Consultation · P. D.: Room 1A chosen').count()).toBe(1);
    expect(unfit(await screenshot(page, 'board')), 'the wall needs no scrolling and nothing is wider than the window').toEqual([]);
    expect(await truncatedWithoutWayToRead(page)).toEqual([]);
    expect(await accessibilityFaults(page), 'axe: serious or critical').toEqual([]);

    await room(page, '1A').getByRole('button', { name: 'Block…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Block Room 1A' });
    await dialog.getByLabel('Reason').fill('Broken couch');
    await dialog.getByLabel('For').selectOption({ label: '2 hours' });
    await screenshot(page, 'block-dialog');
    expect(await accessibilityFaults(page), 'axe: serious or critical').toEqual([]);
    await dialog.getByRole('button', { name: 'Block room' }).click();

    const result = page.getByRole('dialog', { name: 'Room 1A blocked until 11:40' });
    await result.waitFor();
    const moves = result.getByTestId('moves').locator('li');
    expect(await moves.count()).toBe(2);
    const patMove = result.locator(`li[data-uid="${pat}"]`);
    expect(await patMove.textContent()).toMatch(/10:30 Consultation · P\. D\.Room 1A → Room (1B|2A) \(its room is blocked\)/);
    // The write-back state in the dialog follows the worker live. Cal.com takes 5 location updates a
    // minute (CONTRACT §4.1): four went out for the new bookings still to come (not the ECG, which had
    // ended), so one move is written at once and the other waits for the window, with its time.
    const samMove = result.locator(`li[data-uid="${sam}"]`);
    await patMove.locator('.write-state.done', { hasText: 'Cal.com shows this room' }).waitFor();
    await samMove.locator('.write-state', { hasText: 'Cal.com: expected 09:41' }).waitFor();
    await screenshot(page, 'block-result');
    expect(await accessibilityFaults(page), 'axe: serious or critical').toEqual([]);
    await page
      .getByRole('region', { name: 'On its way to Cal.com' })
      .locator(`li[data-uid="${sam}"]`, { hasText: /Consultation · S\. R\. — Room 2A to Cal\.com.*expected 09:41.*rate limit/ })
      .waitFor();
    // Waiting its turn, well before the booking starts, is nothing for a person to do: not counted.
    expect(await page.getByRole('region', { name: 'Not yet in Cal.com' }).count()).toBe(0);
    expect(await page.getByTestId('attention').locator('h2 .count').textContent()).toBe('0');
    const patRoom = /Room 1A → Room (1B|2A)/.exec((await patMove.textContent())!)![1]!;
    expect((await inCal(sandbox.url, pat)).location).toMatch(new RegExp(`^Room ${patRoom} — `));
    // Until its turn comes, Cal.com still shows the old room, exactly as the board says.
    expect((await inCal(sandbox.url, sam)).location).toBe('Room 1A — Floor 1, North wing');

    await result.getByRole('button', { name: 'Done' }).click();
    expect(await room(page, '1A').locator('.state').textContent()).toBe('Blocked · until 11:40');
    expect(await room(page, '1A').locator('.detail').textContent()).toBe('Broken couch');
    expect(
      await room(page, patRoom)
        .getByRole('button', { name: /10:30 to 11:00, Consultation · P\. D\./ })
        .count(),
    ).toBe(1);
    expect(await pageMark(page)).toBe(42);

    // Keyboard only: Tab to the blocked room's Unblock, Enter, Enter on the confirmation.
    await room(page, '1A').getByRole('button', { name: 'Unblock' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog', { name: 'Unblock Room 1A' }).waitFor();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog', { name: 'Room 1A unblocked' }).waitFor();
    await page.keyboard.press('Escape');
    await room(page, '1A').locator('.state', { hasText: 'Free · ready' }).waitFor();

    // Staff move Pat back to 1A by hand: pinned there, and Cal.com told.
    await room(page, patRoom)
      .getByRole('button', { name: /10:30 to 11:00, Consultation · P\. D\./ })
      .click();
    const moveDialog = page.getByRole('dialog', { name: 'Consultation · P. D.' });
    // The rooms that fit come first, each with why in words; a room that cannot take it is disabled with the reason.
    await moveDialog.getByRole('radio', { name: /Room 1A/ }).waitFor();
    const choices = moveDialog.locator('.room-choice');
    const classes = await choices.evaluateAll((els) => els.map((e) => e.className));
    expect(classes.findIndex((c) => c.includes('unfit'))).not.toBe(0);
    expect(await moveDialog.locator('.room-choice', { hasText: 'Room 1A' }).textContent()).toMatch(/Room 1AFree/);
    expect(await moveDialog.textContent()).not.toContain(pat);
    await moveDialog.getByRole('radio', { name: /Room 1A/ }).check();
    await screenshot(page, 'move-dialog');
    expect(await accessibilityFaults(page), 'axe: serious or critical').toEqual([]);
    await moveDialog.getByRole('button', { name: 'Move booking' }).click();
    await room(page, '1A').locator('.slot.booking.pinned', { hasText: 'P.D.' }).waitFor();
    await page.getByText(`Consultation · P. D.: moved from ${patRoom} to 1A by Anna (pinned)`).waitFor();

    await room(page, '1B').getByRole('button', { name: 'Cleaned' }).click();
    await page.getByRole('dialog', { name: 'Room 1B is clean' }).getByRole('button', { name: 'Mark cleaned' }).click();
    await room(page, '1B').locator('.state', { hasText: 'Free · ready' }).waitFor();
    await page.getByText('Room 1B marked clean by Anna').waitFor();
  });

  it('lets staff approve a held booking and replay a failed write-back, and refuses actions without a staff session', async () => {
    await signIn(page, usher.url, ANNA);
    const held = await book(sandbox.url, tomorrowAt(13), 'Una Known', 9);
    const item = page.getByRole('region', { name: 'Held for a person' }).locator(`li[data-uid="${held}"]`);
    await item.getByText('We could not find a membership for this e-mail address').waitFor();
    await screenshot(page, 'attention');
    expect(await accessibilityFaults(page), 'axe: serious or critical').toEqual([]);
    await item.getByRole('button', { name: 'Approve…' }).click();
    const approve = page.getByRole('dialog', { name: 'Approve: Physio · U. K.' });
    await approve.getByLabel('Note (for the log, optional)').fill('known to reception');
    await approve.getByRole('button', { name: 'Approve' }).click();
    // Nobody by that address has credits: the refusal says what to do, and nothing changed.
    await approve.getByRole('alert').getByText('has 0 of 1 credits: grant credits first, or approve without charging').waitFor();
    await approve.getByLabel("Take the session's credits from the member").uncheck();
    await approve.getByRole('button', { name: 'Approve' }).click();
    await item.waitFor({ state: 'detached' });
    await until('confirmed in Cal.com', async () => (await inCal(sandbox.url, held)).status === 'accepted');
    await page.getByText('Physio · U. K.: Approved by Anna — known to reception').waitFor();
    // Its room reaches Cal.com before the fault below, which would fail that write-back too.
    await until('the approved booking’s room in Cal.com', async () => (await inCal(sandbox.url, held)).location?.startsWith('Room '));

    // A write-back that Cal.com keeps refusing dies after two attempts and shows with a Replay button.
    await sandboxFaults(sandbox.url, { delivery: { delayMs: 300 } });
    const late = await book(sandbox.url, tomorrowAt(15), 'Lee Late');
    await sandboxFaults(sandbox.url, { api: { failStatus: 500, failForSeconds: 600 } });
    const failed = page.getByRole('region', { name: 'Failed — needs a replay' }).locator('li', { hasText: 'room to Cal.com' });
    await failed.waitFor();
    await sandboxFaults(sandbox.url, { api: {}, delivery: { delayMs: 0 } });
    await failed.getByRole('button', { name: 'Replay' }).click();
    await failed.waitFor({ state: 'detached' });
    await until('the replayed room in Cal.com', async () => (await inCal(sandbox.url, late)).location?.startsWith('Room '));

    // Refused: no session, a session without the CSRF header, a display screen's session.
    const post = async (headers: Record<string, string>) =>
      (
        await request(`${usher.url}/board/api/rooms/1B/block`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ reason: 'x', until: tomorrowAt(12).toISOString() }),
        })
      ).statusCode;
    const cookie = (await browser.context.cookies(`${usher.url}/board`)).map((c) => `${c.name}=${c.value}`).join('; ');
    expect(await post({})).toBe(401);
    expect(await post({ cookie })).toBe(403);
    expect(await post({ cookie, 'x-usher-csrf': 'forged' })).toBe(403);
    const csrf = await page.evaluate(
      async () => ((await (await fetch('/board/api/session')).json()) as { data: { csrfToken: string } }).data.csrfToken,
    );
    expect(await post({ cookie, 'x-usher-csrf': csrf, origin: 'https://evil.example' })).toBe(403);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Token').fill('not-a-token-at-all-000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('That token is not valid.').waitFor();
    await screenshot(page, 'sign-in');
    expect(await accessibilityFaults(page), 'axe: serious or critical').toEqual([]);
    await page.getByLabel('Token').fill(WALL);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Wall screen · view only').waitFor();
    await room(page, '1B').waitFor();
    expect(await page.getByRole('button', { name: 'Block…' }).count()).toBe(0);
    expect(unfit(await screenshot(page, 'display'))).toEqual([]);
    const wallCookie = (await browser.context.cookies(`${usher.url}/board`)).map((c) => `${c.name}=${c.value}`).join('; ');
    const wallCsrf = await page.evaluate(
      async () => ((await (await fetch('/board/api/session')).json()) as { data: { csrfToken: string } }).data.csrfToken,
    );
    expect(await post({ cookie: wallCookie, 'x-usher-csrf': wallCsrf })).toBe(403);
    expect((await request(`${usher.url}/board/events`)).statusCode).toBe(401);
    expect(await room(page, '1B').locator('.state').textContent()).toBe('Free · ready');
  });

  it('shows another day with → and the date picker, keeps it current, and comes back to today with T', async () => {
    const dayAfter = new Date(tomorrowAt(10, 15).getTime() + 86_400_000);
    const later = new Date(tomorrowAt(11).getTime() + 86_400_000);
    await book(sandbox.url, dayAfter, 'Dana After');
    await signIn(page, usher.url, ANNA);
    await room(page, '1A').locator('.state').waitFor();
    await markPage(page);
    await page.keyboard.press('ArrowRight');
    const banner = page.locator('.other-day');
    const weekday = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Atlantic/Reykjavik',
      weekday: 'long',
      day: 'numeric',
      month: 'long',
    }).format(dayAfter);
    await banner.getByText(`${weekday}: the day's bookings and blocks`).waitFor();
    await room(page, '1A')
      .getByRole('button', { name: /10:15 to 10:45, Consultation · D\. A\./ })
      .waitFor();
    expect(await room(page, '1A').locator('.detail').textContent()).toBe('1 booking');
    // A booking made for that day while it is shown appears without a reload.
    await book(sandbox.url, later, 'Eli Later');
    await room(page, '1A')
      .getByRole('button', { name: /11:00 to 11:30, Consultation · E\. L\./ })
      .waitFor();
    await screenshot(page, 'another-day');
    expect(await accessibilityFaults(page), 'axe: serious or critical').toEqual([]);
    await page.keyboard.press('t');
    await banner.waitFor({ state: 'detached' });
    await room(page, '1A').locator('.state', { hasText: 'Free · ready' }).waitFor();
    await page.getByLabel('Show the day').fill(dayAfter.toISOString().slice(0, 10));
    await banner.waitFor();
    await page.getByRole('button', { name: 'Back to today' }).click();
    await banner.waitFor({ state: 'detached' });
    expect(await pageMark(page)).toBe(42);
  });

  it('plans a block for later, shows what it would move before saving it, changes it and lifts it from the timeline', async () => {
    const fay = await book(sandbox.url, tomorrowAt(13), 'Fay Future');
    await signIn(page, usher.url, ANNA);
    await room(page, '1A')
      .getByRole('button', { name: /13:00 to 13:30, Consultation · F\. F\./ })
      .waitFor();
    await room(page, '1A').getByRole('button', { name: 'Block…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Block Room 1A' });
    await dialog.getByLabel('Reason').fill('Painting');
    // A booking arrives while the desk is typing: the board behind changes (a patch of the view),
    // and the dialog stays open with the cursor where it was and the text as typed.
    await book(sandbox.url, tomorrowAt(16, 30), 'Lia Late');
    // (behind a modal dialog the page is inert: found by its markup, not its role)
    await page.locator('.slot.booking[aria-label*="L. L."]').waitFor();
    expect(await dialog.isVisible()).toBe(true);
    expect(await dialog.getByLabel('Reason').evaluate((el) => el === document.activeElement)).toBe(true);
    expect(await dialog.getByLabel('Reason').inputValue()).toBe('Painting');
    await dialog.getByLabel('at').check();
    await dialog.getByLabel('Start of the block').fill(tomorrowAt(12, 30).toISOString().slice(0, 16));
    await dialog.getByLabel('For').selectOption({ label: '2 hours' });
    await dialog.getByText('From 12:30 until 14:30.', { exact: false }).waitFor();
    await dialog.getByRole('button', { name: 'Preview the effect' }).click();
    const preview = dialog.getByTestId('preview-moves').locator(`li[data-uid="${fay}"]`);
    await expect(preview.textContent()).resolves.toMatch(/13:00 Consultation · F\. F\.Room 1A → Room (1B|2A) \(its room is blocked\)/);
    await screenshot(page, 'block-preview');
    expect(await accessibilityFaults(page), 'axe: serious or critical').toEqual([]);
    // Nothing was saved by looking: the booking is still in 1A, with no block on the timeline.
    expect(await room(page, '1A').locator('.slot.block').count()).toBe(0);
    expect(
      await room(page, '1A')
        .getByRole('button', { name: /13:00 to 13:30/ })
        .count(),
    ).toBe(1);
    await dialog.getByRole('button', { name: 'Block room' }).click();
    await page.getByRole('dialog', { name: 'Room 1A blocked until 14:30' }).getByRole('button', { name: 'Done' }).click();
    expect(await room(page, '1A').locator('.state').textContent()).toBe('Free · ready');
    const block = room(page, '1A').getByRole('button', { name: /^Blocked 12:30 to 14:30: Painting/ });
    await block.waitFor();
    // The painters come later: the block is changed from the timeline, its effect seen first.
    await block.click();
    const change = page.getByRole('dialog', { name: 'Block on Room 1A' });
    await change.getByLabel('From').fill(tomorrowAt(14).toISOString().slice(0, 16));
    await change.getByLabel('Until').fill(tomorrowAt(16).toISOString().slice(0, 16));
    await change.getByRole('button', { name: 'Preview the effect' }).click();
    await change.getByText('No booking would move.').waitFor();
    await expect(accessibilityFaults(page)).resolves.toEqual([]);
    await change.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('dialog', { name: 'Room 1A blocked until 16:00' }).getByRole('button', { name: 'Done' }).click();
    const moved = room(page, '1A').getByRole('button', { name: /^Blocked 14:00 to 16:00: Painting/ });
    await moved.waitFor();
    await moved.click();
    await page.getByRole('dialog', { name: 'Block on Room 1A' }).getByRole('button', { name: 'Lift block' }).click();
    await page.getByRole('dialog', { name: 'Room 1A unblocked' }).getByRole('button', { name: 'Done' }).click();
    await moved.waitFor({ state: 'detached' });
  });

  it('recovers after the server goes away and comes back, without a reload', async () => {
    await signIn(page, usher.url, ANNA);
    await markPage(page);
    const port = new URL(usher.url).port;
    await usher.close();
    await page.getByTestId('connection').filter({ hasText: 'Reconnecting…' }).waitFor();
    usher = await startTestUsher(store, {
      runWorker: true,
      clock: tomorrowClock(),
      env: { CAL_API_URL: sandbox.url, CAL_API_KEY: KEY, PORT: port, ...TOKENS },
      yaml: YAML,
    });
    await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor();
    await book(sandbox.url, tomorrowAt(14), 'Ray Back');
    await page.getByText('Consultation · R. B.: Room 1A chosen').waitFor();
    expect(await pageMark(page)).toBe(42);
  });
});

describe.runIf(serverUrl)('the board across Usher processes on one PostgreSQL', () => {
  let store: TestStore;
  let sandbox: Sandbox;
  let usher: Usher;
  let other: ServeProcess | undefined;
  beforeEach(async () => {
    store = await openTestStore('postgres');
    sandbox = new Sandbox({ seed: loadSeed(), anonymousRequestsPerMinute: 5000, locationRequestsPerMinute: 1000 });
    await sandbox.listen(0, '127.0.0.1', 0);
    usher = await startTestUsher(store, { runWorker: true, env: { CAL_API_URL: sandbox.url, CAL_API_KEY: KEY, ...TOKENS }, yaml: YAML });
    await subscribeSandbox(sandbox.url, KEY, usher.url, TEST_SECRET);
  });
  afterEach(async () => {
    other?.child.kill('SIGTERM');
    await other?.exited;
    await sandbox.close();
    await usher.close();
    await store.close();
  });

  it('shows on one process what a webhook changed through another', async () => {
    const configPath = join(mkdtempSync(join(tmpdir(), 'usher-board-')), 'usher.config.yaml');
    writeFileSync(configPath, YAML);
    other = await spawnServe({ DATABASE_URL: store.url!, USHER_CONFIG: configPath, CAL_API_URL: sandbox.url, CAL_API_KEY: KEY, ...TOKENS });
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    try {
      await signIn(page, other.url, ANNA);
      await markPage(page);
      // The webhook goes to the in-test Usher; the page watches the separate `usher serve` process.
      await book(sandbox.url, tomorrowAt(10), 'Cross Process');
      await page.getByText('Consultation · C. P.: Room 1A chosen').waitFor();
      expect(await pageMark(page)).toBe(42);
    } finally {
      await page.close();
    }
  });
});
