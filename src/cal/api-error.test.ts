import { describe, expect, it } from 'vitest';
import { calApiError, readCalError } from './api-error.ts';

// CONTRACT §4.1: the two error shapes Cal.com answers with, and a ValidationPipe failure's
// class-validator details (`whitelist: true`, one entry per property with its failed constraints).
describe('Cal.com error answers', () => {
  it('reads the envelope, the bare HttpError shape and the fields a validation failure names', () => {
    expect(readCalError({ status: 'error', error: { code: 'NotFoundException', message: 'Booking not found' } })).toEqual({
      calCode: 'NotFoundException',
      calMessage: 'Booking not found',
    });
    expect(readCalError({ statusCode: 400, message: 'Cancellation reason is required when you are the host' })).toEqual({
      calMessage: 'Cancellation reason is required when you are the host',
    });
    const validation = {
      status: 'error',
      timestamp: '2026-12-01T09:00:00.000Z',
      path: '/v2/bookings',
      error: {
        code: 'BadRequestException',
        message: 'Bad Request Exception',
        details: {
          errors: [
            { property: 'attendee', children: [], constraints: { isEmail: 'attendee.email must be an email' } },
            { property: 'start', constraints: { isISO8601: 'start must be a valid ISO 8601 date string' } },
          ],
        },
      },
    };
    expect(readCalError(validation).calMessage).toBe(
      'Bad Request Exception; attendee.email must be an email; start must be a valid ISO 8601 date string',
    );
  });

  it('names the endpoint, the status, what Cal.com said and its request id', () => {
    const error = calApiError({
      status: 400,
      calMessage: 'start must be a valid ISO 8601 date string',
      requestId: 'b9f2c1e0-5d7a-4c1e-9a55-0d7c2f6a1b3e',
      body: {},
      endpoint: 'POST /v2/bookings',
      rateLimit: {},
    });
    expect(error.code).toBe('CAL_API_ERROR');
    expect(error.message).toBe(
      'Cal.com POST /v2/bookings HTTP 400: start must be a valid ISO 8601 date string (Cal.com request b9f2c1e0-5d7a-4c1e-9a55-0d7c2f6a1b3e)',
    );
  });
});
