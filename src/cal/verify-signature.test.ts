import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signBody, verifySignature } from './verify-signature.ts';

const secret = 'whsec_abc';
const body = Buffer.from('{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-01-01T10:00:00.000Z","payload":{"uid":"u1"}}');
const good = createHmac('sha256', secret).update(body).digest('hex');

describe('verifySignature', () => {
  it('accepts the lowercase hex HMAC-SHA256 of the exact body', () => {
    expect(verifySignature(body, good, secret)).toEqual({ ok: true });
    expect(signBody(body, secret)).toBe(good);
  });

  it('accepts the same MAC in uppercase hex (hex is case-insensitive)', () => {
    expect(verifySignature(body, good.toUpperCase(), secret)).toEqual({ ok: true });
  });

  it('refuses a body with one byte changed', () => {
    const tampered = Buffer.from(body);
    const at = tampered.length - 3;
    tampered[at] = tampered[at]! ^ 0x01;
    expect(verifySignature(tampered, good, secret)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('refuses a body re-serialised with different whitespace', () => {
    const pretty = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 2));
    expect(verifySignature(pretty, good, secret)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('refuses a signature made with another secret', () => {
    const other = createHmac('sha256', 'whsec_other').update(body).digest('hex');
    expect(verifySignature(body, other, secret)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('refuses the literal no-secret-provided while a secret is configured', () => {
    expect(verifySignature(body, 'no-secret-provided', secret)).toEqual({ ok: false, reason: 'no-secret-provided' });
  });

  it('refuses a missing header and anything that is not 64 hex digits', () => {
    expect(verifySignature(body, undefined, secret)).toEqual({ ok: false, reason: 'missing' });
    expect(verifySignature(body, '', secret)).toEqual({ ok: false, reason: 'missing' });
    expect(verifySignature(body, `sha256=${good}`, secret)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifySignature(body, good.slice(0, 63), secret)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifySignature(body, `${good.slice(0, 63)}g`, secret)).toEqual({ ok: false, reason: 'malformed' });
  });
});
