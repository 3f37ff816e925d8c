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
