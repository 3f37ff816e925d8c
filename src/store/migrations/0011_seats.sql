-- Seated event types (CONTRACT §1.2 "Seat cancelled", §3.2 `seatsPerTimeSlot`): one Cal.com booking
-- holds many attendees, one per seat, under one uid; a seat's cancel leaves the booking standing.
-- `seats` are the seats taken (attendee e-mails, lower-cased), null for a booking without seats.
alter table bookings add column seats_per_slot integer, add column seats text[];

-- One occurrence of a recurring series (its payload carried the event type's recurringEvent rule):
-- Cal.com cancels the rest of a series with one BOOKING_CANCELLED (handleCancelBooking's updateMany).
alter table bookings add column in_series boolean not null default false;

-- How many people a room holds; null: not limited (a consulting room's patient and companion).
alter table rooms add column capacity integer check (capacity is null or capacity > 0);

-- A collective team event's other hosts (e-mails): each of them is in the room, so each one's rooms count.
alter table bookings add column co_hosts text[];
