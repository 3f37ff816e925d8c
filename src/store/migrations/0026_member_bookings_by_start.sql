-- A member's bookings counted against a limit (store/gate-decisions.ts countMemberBookings) are one
-- e-mail's bookings in one period. With an index on the e-mail alone PostgreSQL combined it with
-- bookings_start in a BitmapAnd, reading every booking of the whole business that starts in the
-- period (2,016 for a week of a 1,000-member club, 0.1–0.2 ms per count, growing with the business):
-- the e-mail and the start together make it one index range of the member's own bookings. It
-- serves lookups by e-mail alone as well, so it replaces bookings_attendee.
create index bookings_attendee_start on bookings (lower(attendee_email), start_at);
drop index bookings_attendee;
