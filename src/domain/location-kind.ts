/**
 * What a booking's own location says about where it happens (CONTRACT §3.2: `location` is a raw
 * value — `integrations:daily` or another app, a URL, a phone number, an address, or nothing).
 * Only an in-person booking (an address, or no location at all) may be given a room, because
 * writing a room overwrites the location: a patient's video link or phone number would be lost.
 */
export type LocationKind = 'in_person' | 'unset' | 'video' | 'link' | 'phone';

export function locationKind(location: string | null | undefined): LocationKind {
  const value = location?.trim() ?? '';
  if (value === '') return 'unset';
  // Every conferencing app Cal.com integrates (Cal Video, Zoom, Meet, Teams…) is `integrations:<app>`.
  if (/^integrations:/i.test(value)) return 'video';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return 'link';
  // A phone call: the attendee's or the organizer's number, as Cal.com stores it (E.164 or spaced).
  if (/^\+?[\d\s().-]{6,}$/.test(value) && /\d{6,}/.test(value.replace(/\D/g, ''))) return 'phone';
  return 'in_person';
}

export function isInPerson(location: string | null | undefined): boolean {
  const kind = locationKind(location);
  return kind === 'in_person' || kind === 'unset';
}
