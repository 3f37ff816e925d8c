import { describe, expect, it } from 'vitest';
import { ruleCodes } from '../domain/room-model.ts';
import { exclusionText, presentRoomOption, RULE_SENTENCES, waitingText } from './reason-text.ts';

describe('reasons in words: one catalogue, a sentence for every code', () => {
  it('has a sentence for every rule a room can fail, for one room and for several, with no code showing', () => {
    for (const code of ruleCodes) {
      const sentence = RULE_SENTENCES[code]({ missing: ['xray'], reason: 'Leak' });
      expect(sentence, code).toMatch(/^[A-Z].*\.$/);
      for (const rooms of [['1A'], ['1A', '1B', '2A']]) {
        const text = exclusionText({ code, rooms, detail: { missing: ['xray'], reason: 'Leak' } });
        expect(text, code).not.toMatch(/room\.|_/);
        expect(text, code).toContain(rooms.at(-1)!);
      }
    }
  });

  it('reads as the front desk would say it', () => {
    expect(
      waitingText({
        excluded: [
          { code: 'room.missing_equipment', rooms: ['1A', '1B'], detail: { missing: ['xray'] } },
          { code: 'room.occupied', rooms: ['3A'] },
        ],
      }),
    ).toBe('No room is free: 1A and 1B have no xray; 3A is taken then.');
    expect(presentRoomOption({ room: '2A', fits: false, code: 'room.not_allowed_for_doctor' })).toEqual({
      room: '2A',
      fits: false,
      code: 'room.not_allowed_for_doctor',
      why: "Not one of the doctor's rooms.",
    });
    expect(presentRoomOption({ room: '1A', fits: true, cost: 0, preferences: ['doctor.same_room_as_previous'] }).why).toBe(
      "Free — the doctor's room before.",
    );
  });
});

describe('room decisions in the feed', () => {
  it('say why a booking with a room got another, and when it kept one that no longer suits', async () => {
    const { decisionText } = await import('./reason-text.ts');
    const decision = (outcome: string, reasons: Record<string, unknown>[]) =>
      ({ id: 1, kind: 'room', outcome, reasons, bookingUid: 'u', at: new Date(), detail: {} }) as unknown as Parameters<
        typeof decisionText
      >[0];
    expect(decisionText(decision('assigned', [{ code: 'room.assigned', room: 'G1', cause: 'seats_taken', preferences: [] }]))).toBe(
      'Room G1 chosen as the class outgrew its room',
    );
    expect(decisionText(decision('assigned', [{ code: 'room.assigned', room: '2B', cause: 'reassigned', preferences: [] }]))).toBe(
      'Room 2B chosen for the doctor it was reassigned to',
    );
    expect(decisionText(decision('kept', [{ code: 'room.too_small', room: '1A', capacity: 2, people: 5 }]))).toBe(
      'Room 1A kept, though it no longer suits: Holds 2; this needs room for 5. No room that does is free.',
    );
  });
});

describe('every reason code in the source has words', () => {
  it('finds each code Usher records or shows, and each is in one of the catalogues', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const { gateReasonCodes } = await import('../domain/gate-policy.ts');
    const { defaultDeclineMessages } = await import('../domain/decline-message.ts');
    const { REASON_SENTENCES } = await import('./reason-text.ts');
    const src = fileURLToPath(new URL('..', import.meta.url));
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory()
          ? ['sandbox', 'client'].includes(e.name)
            ? []
            : files(join(dir, e.name))
          : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')
            ? [join(dir, e.name)]
            : [],
      );
    const codes = new Set<string>();
    for (const f of files(src))
      for (const m of readFileSync(f, 'utf8').matchAll(/code: ['`]((?:room|credits|gate|booking|operator|job|event)\.[a-z_.]+)['`]/g))
        codes.add(m[1]!);
    // `room.${move.why}`: the re-planner's reasons for a move.
    for (const why of ['room_unusable', 'made_way', 'placed', 'no_room']) codes.add(`room.${why}`);
    // Said by roomReasonText itself, with the decision's own facts (who, which room, why).
    const spokenByRoomText = [
      'room.assigned',
      'room.kept_after_reschedule',
      'room.moved_by_operator',
      'room.blocked',
      'room.block_changed',
      'room.unblocked',
      'room.cleaned',
      'room.write_skipped_ended',
      'room.not_in_person',
    ];
    const failingGateCodes = (gateReasonCodes as readonly string[]).filter(
      (c) => defaultDeclineMessages[c as keyof typeof defaultDeclineMessages],
    );
    const known = new Set([...Object.keys(REASON_SENTENCES), ...ruleCodes, ...failingGateCodes, ...spokenByRoomText]);
    const silent = [...codes].filter((c) => !known.has(c) && !c.startsWith('room.released.'));
    expect(codes.size).toBeGreaterThan(25);
    expect(silent).toEqual([]);
  });
});
