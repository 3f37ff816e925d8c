import { RoomDayCache } from '../src/rooms/room-day-cache.ts';
import { roomBatchHooks, roomEventHandler } from '../src/rooms/room-events.ts';
import { syncConfigRooms } from '../src/rooms/room-operations.ts';
import type { RoomDeps } from '../src/rooms/room-planning.ts';
import { testConfig } from './config.ts';
import { EventPipeline } from './event-pipeline.ts';
import type { TestStore } from './stores.ts';

/**
 * A clinic of the given config on a fresh store: its rooms synced, and a pipeline that runs Usher's
 * booking, gate and room handlers on events as the worker does, with its own clock set to `start`.
 */
export async function roomClinic(store: TestStore, yaml: string, start: string | Date) {
  await store.reset();
  const config = testConfig({}, yaml);
  // As a process of Usher has it: the rooms and days of room choices kept between decisions.
  const rooms: RoomDeps = { settings: config.roomSettings, timeZone: config.timeZone, maxAttempts: 3, dayCache: new RoomDayCache() };
  const cal = new EventPipeline(
    store.db,
    { settings: config.gate, timeZone: config.timeZone, maxAttempts: 3 },
    undefined,
    [roomEventHandler(rooms)],
    roomBatchHooks(rooms),
  );
  cal.clock.set(start);
  await syncConfigRooms(store.db, config.rooms, rooms, cal.clock.now());
  return { config, rooms, cal };
}
