import { describe, expect, it } from 'vitest';
import { chooseRoom } from './choose-room.ts';
import { RoomIndex } from './room-index.ts';
import { defaultWeights, type PlannedBooking, type Room, type RoomNeed } from './room-model.ts';

const H = 3_600_000;
const T0 = Date.UTC(2026, 11, 1, 9);
const room = (name: string, over: Partial<Room> = {}): Room => ({
  name,
  floor: 1,
  building: 'North wing',
  equipment: [],
  cleaningMinutes: 10,
  active: true,
  ...over,
});
const need = (uid: string, startH: number, hours = 1, over: Partial<RoomNeed> = {}): RoomNeed => ({
  uid,
  start: T0 + startH * H,
  end: T0 + (startH + hours) * H,
  doctor: '5',
  equipment: [],
  preferredRooms: [],
  ...over,
});

function world(
  rooms: Room[],
  placed: { need: RoomNeed; room?: string }[],
  blocks: { room: string; from: number; to: number; reason: string }[] = [],
) {
  const bookings: PlannedBooking[] = placed.map((p) => ({
    need: p.need,
    ...(p.room ? { room: p.room } : {}),
    frozen: false,
    pinned: false,
  }));
  return new RoomIndex({
    rooms,
    blocks: blocks.map((b, i) => ({ id: i + 1, ...b })),
    bookings,
    timeZone: 'Europe/London',
    weights: defaultWeights,
  });
}

describe('choosing a room for one booking', () => {
  it('keeps to the hard rules and says which rule excluded which room', () => {
    const rooms = [room('1A', { equipment: ['ecg'] }), room('1B', { equipment: ['ecg'] }), room('2A'), room('2B', { equipment: ['ecg'] })];
    const index = world(rooms, [{ need: need('busy', 0), room: '1A' }], [{ room: '2B', from: T0, to: T0 + 8 * H, reason: 'deep clean' }]);
    const choice = chooseRoom(index, need('new', 0.5, 1, { equipment: ['ecg'], allowedRooms: ['1A', '2A', '2B'] }));
    expect(choice).toMatchObject({ outcome: 'unassigned' });
    if (choice.outcome !== 'unassigned') return;
    expect(choice.excluded).toEqual([
      { code: 'room.occupied', rooms: ['1A'] },
      { code: 'room.not_allowed_for_doctor', rooms: ['1B'], detail: { doctor: '5' } },
      { code: 'room.missing_equipment', rooms: ['2A'], detail: { missing: ['ecg'] } },
      { code: 'room.blocked', rooms: ['2B'], detail: { reason: 'deep clean', until: new Date(T0 + 8 * H).toISOString() } },
    ]);
  });

  it('counts the cleaning buffer after a booking as occupied', () => {
    const index = world([room('1A', { cleaningMinutes: 15 })], [{ need: need('before', 0), room: '1A' }]);
    // starts 10 minutes after the previous booking ends: inside the 15-minute clean
    expect(chooseRoom(index, { ...need('next', 1), start: T0 + H + 10 * 60_000, end: T0 + 2 * H }).outcome).toBe('unassigned');
    expect(chooseRoom(index, { ...need('next', 1), start: T0 + H + 15 * 60_000, end: T0 + 2 * H }).outcome).toBe('assigned');
  });

  it('keeps a doctor in the room of their previous appointment that day, then prefers their preferred room', () => {
    const rooms = [room('1A'), room('1B'), room('3C', { floor: 3 })];
    const index = world(rooms, [{ need: need('morning', 0), room: '1B' }]);
    expect(chooseRoom(index, need('next', 1.5, 1, { preferredRooms: ['1A'] }))).toMatchObject({
      room: '1B',
      preferences: ['doctor.same_room_as_previous', 'doctor.same_floor'],
    });
    // another doctor: the preferred room wins
    expect(chooseRoom(index, need('other', 1.5, 1, { doctor: '6', preferredRooms: ['3C'] }))).toMatchObject({
      room: '3C',
      preferences: ['room.preferred'],
    });
  });

  it('does not spend the only X-ray room on a consultation', () => {
    const rooms = [room('XR', { equipment: ['xray'] }), room('1A')];
    expect(chooseRoom(world(rooms, []), need('talk', 0, 1, { doctor: '9' }))).toMatchObject({ room: '1A' });
    expect(chooseRoom(world(rooms, []), need('scan', 0, 1, { doctor: '9', equipment: ['xray'] }))).toMatchObject({ room: 'XR' });
  });

  it('respects opening hours in the business time zone', () => {
    const open = room('1A', { open: { fromMinute: 8 * 60, toMinute: 18 * 60 } });
    // 17:30–18:30 London time in winter (UTC+0)
    const late = { ...need('late', 0), start: Date.UTC(2026, 11, 1, 17, 30), end: Date.UTC(2026, 11, 1, 18, 30) };
    expect(chooseRoom(world([open], []), late)).toMatchObject({
      outcome: 'unassigned',
      excluded: [{ code: 'room.closed', rooms: ['1A'] }],
    });
  });
});
