import type { Room } from './room-model.ts';
import { renderText, templateFaults } from './template.ts';

export const defaultLocationTemplate = 'Room {{name}} — Floor {{floor}}, {{building}}';
export const locationFields = ['name', 'floor', 'building'] as const;

/** The address written to Cal.com for a room (config `location.template`). */
export function locationText(template: string, room: Pick<Room, 'name' | 'floor' | 'building'>): string {
  return renderText(template, { name: room.name, floor: room.floor, building: room.building });
}

export function locationTemplateFaults(template: string): string[] {
  return templateFaults('location.template', template, locationFields);
}
