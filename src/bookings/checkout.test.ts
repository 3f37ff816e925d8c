import { describe, expect, it } from 'vitest';
import { specSchema } from '../../test/openapi.ts';
import { CAL_LANGUAGES, checkoutSchema } from './checkout.ts';

describe('the checkout request', () => {
  it("takes exactly the attendee languages Cal.com's spec lists", () => {
    const language = (specSchema('CreateBookingAttendee').properties as Record<string, { enum: string[] }>).language!;
    expect([...CAL_LANGUAGES].sort()).toEqual([...language.enum].sort());
  });

  it('refuses a language Cal.com does not take, naming the nearest one', () => {
    const request = (language: string) =>
      checkoutSchema.safeParse({ eventTypeId: 7, start: '2026-12-02T10:00:00Z', attendee: { name: 'A', timeZone: 'UTC', language } });
    expect(request('pt-BR').success).toBe(true);
    expect(request('pt-PT').error?.issues[0]?.message).toBe('"pt-PT" is not a language Cal.com takes — did you mean "pt"?');
    expect(request('zh').error?.issues[0]?.message).toBe('"zh" is not a language Cal.com takes — did you mean "zh-CN"?');
    expect(request('klingon').error?.issues[0]?.message).toMatch(/^"klingon" is not a language Cal.com takes \(one of ar, ca, /);
  });
});
