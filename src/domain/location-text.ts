import type { Room } from './room-model.ts';

export const defaultLocationTemplate = 'Room {name} — Floor {floor}, {building}';
export const locationFields = ['name', 'floor', 'building'] as const;

/** The address written to Cal.com for a room (config `location.template`). */
export function locationText(template: string, room: Pick<Room, 'name' | 'floor' | 'building'>): string {
  return template.replace(/\{(\w+)\}/g, (whole, field: string) => {
    switch (field) {
      case 'name':
        return room.name;
      case 'floor':
        return String(room.floor);
      case 'building':
        return room.building;
      default:
        return whole;
    }
  });
}

export function locationTemplateFaults(template: string): string[] {
  return [...template.matchAll(/\{(\w+)\}/g)]
    .map((m) => m[1]!)
    .filter((f) => !(locationFields as readonly string[]).includes(f))
    .map((f) => `location.template: {${f}} is not a room field (fields: ${locationFields.join(', ')})`);
}
