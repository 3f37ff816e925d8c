import { createHmac, timingSafeEqual } from 'node:crypto';

export type SignatureCheck = { ok: true } | { ok: false; reason: 'missing' | 'malformed' | 'no-secret-provided' | 'mismatch' };

const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;

/**
 * CONTRACT §2.2: `X-Cal-Signature-256` is the hex HMAC-SHA256 of the exact body bytes with the
 * webhook secret as key; no prefix, no timestamp. Cal.com sends lowercase hex; hex is
 * case-insensitive, so uppercase names the same MAC and is accepted. With no secret on the
 * Cal.com side the header is the literal `no-secret-provided`, which never passes here.
 */
export function verifySignature(rawBody: Buffer, header: string | undefined, secret: string): SignatureCheck {
  if (header === undefined || header === '') return { ok: false, reason: 'missing' };
  const value = header.trim();
  if (value === 'no-secret-provided') return { ok: false, reason: 'no-secret-provided' };
  if (!HEX_SHA256.test(value)) return { ok: false, reason: 'malformed' };
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  const given = Buffer.from(value, 'hex');
  return timingSafeEqual(expected, given) ? { ok: true } : { ok: false, reason: 'mismatch' };
}

export function signBody(rawBody: string | Buffer, secret: string): string {
  return createHmac('sha256', secret).update(rawBody).digest('hex');
}
