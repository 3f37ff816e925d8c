import { describe, expect, it } from 'vitest';
import { isInPerson, locationKind } from './location-kind.ts';

describe('what a booking’s location says about where it happens', () => {
  it.each([
    ['integrations:daily', 'video'],
    ['integrations:zoom', 'video'],
    ['integrations:google:meet', 'video'],
    ['integrations:office365_video', 'video'],
    ['https://zoom.us/j/123456789', 'link'],
    ['https://meet.google.com/abc-defg-hij', 'link'],
    ['+44 20 7946 0958', 'phone'],
    ['+442079460958', 'phone'],
    ['(020) 7946-0958', 'phone'],
    ['Harbour Clinic, 1 Quay Street, Bristol', 'in_person'],
    ['Room 1A — Floor 1, North wing', 'in_person'],
    ['Flat 3, 12 Mill Lane', 'in_person'],
    ['', 'unset'],
    [null, 'unset'],
  ] as const)('%j is %s', (location, kind) => {
    expect(locationKind(location)).toBe(kind);
  });

  it('gives rooms only to bookings that happen in person, or say nothing about where', () => {
    expect([
      isInPerson('Harbour Clinic'),
      isInPerson(undefined),
      isInPerson('integrations:daily'),
      isInPerson('+44 20 7946 0958'),
      isInPerson('https://x.example/m'),
    ]).toEqual([true, true, false, false, false]);
  });
});
