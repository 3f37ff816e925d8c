-- A reschedule can arrive before its old booking's own events (Cal.com does not order deliveries):
-- handling the old booking's late BOOKING_CREATED asks whether a newer booking already replaced it.
create index bookings_rescheduled_from on bookings (rescheduled_from_uid) where rescheduled_from_uid is not null;
