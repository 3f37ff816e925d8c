/** `usher help` for the booking commands, apart from them so that help loads no Cal.com client. */
export const BOOKING_HELP = `
  slots --event-type ID --from DATE --to DATE [--time-zone TZ]
                                       free slots of an event type in Cal.com
  book --event-type ID --start ISO --name N --email E [--time-zone TZ] [--meta key=value …]
       [--idempotency-key K]           book in Cal.com (a custom checkout); prints the key: repeat
                                       the command with it and no second booking is ever made`;
