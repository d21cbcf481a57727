#!/usr/bin/env node
// Booking scenarios through the official TS SDK client against `concierge serve --demo`: find
// slots, book one, see it gone from the slots and on the calendar, reschedule, cancel, see the
// slot return.
import assert from 'node:assert/strict';
import { binaryArg, checker, connectDemo } from './demo_server.mjs';

const binary = binaryArg('scenario_booking.mjs');
const { check, done } = checker();
const { call, callError, close } = await connectDemo(binary);
const ms = s => new Date(s).getTime();

let slots, booking;
await check('the demo offers three event types with open slots', async () => {
    const { event_types } = await call('booking_list_event_types');
    assert.deepEqual(event_types.map(t => t.id).sort(), ['consultation', 'intro-call', 'workshop']);
    ({ slots } = await call('booking_find_slots', { event_type: 'consultation', max_results: 500 }));
    assert.ok(slots.length > 5, `${slots.length} slots`);
});

await check('a booked slot leaves the slots and is on the calendar', async () => {
    ({ booking } = await call('booking_create', {
        event_type: 'consultation', start: slots[2].start,
        attendee: { name: 'Ada Lovelace', email: 'ada@example.com', time_zone: 'Europe/London' }, notes: 'About the analytical engine'
    }));
    assert.equal(booking.status, 'accepted');
    assert.equal(ms(booking.start), ms(slots[2].start));
    const now = (await call('booking_find_slots', { event_type: 'consultation', max_results: 500 })).slots;
    assert.ok(!now.some(s => ms(s.start) === ms(slots[2].start)), 'the booked slot is still offered');
    const { event } = await call('calendar_get_event', { event_id: booking.calendar_event_id });
    assert.equal(ms(event.start), ms(booking.start));
    assert.equal(event.attendees[0].email, 'ada@example.com');
    const { bookings } = await call('booking_list');
    assert.deepEqual(bookings.map(b => b.id), [booking.id]);
    // Booking the same slot again is refused, naming start.
    assert.match(await callError('booking_create', { event_type: 'consultation', start: slots[2].start, attendee: { name: 'Bob', email: 'bob@example.com' } }), /^start:/);
});

await check('rescheduling moves the booking and its calendar event; the old slot returns', async () => {
    const target = slots[slots.length - 1];
    const { booking: moved } = await call('booking_reschedule', { booking_id: booking.id, start: target.start, reason: 'travel' });
    assert.equal(ms(moved.start), ms(target.start));
    const { event } = await call('calendar_get_event', { event_id: booking.calendar_event_id });
    assert.equal(ms(event.start), ms(target.start));
    const now = (await call('booking_find_slots', { event_type: 'consultation', max_results: 500 })).slots;
    assert.ok(now.some(s => ms(s.start) === ms(slots[2].start)), 'the old slot did not return');
    assert.ok(!now.some(s => ms(s.start) === ms(target.start)), 'the new slot is still offered');
});

await check('cancelling frees the slot and removes the calendar event', async () => {
    const { booking: c } = await call('booking_cancel', { booking_id: booking.id, reason: 'plans changed' });
    assert.equal(c.status, 'cancelled');
    assert.equal(c.cancel_reason, 'plans changed');
    const now = (await call('booking_find_slots', { event_type: 'consultation', max_results: 500 })).slots;
    assert.equal(now.length, slots.length);
    assert.match(await callError('calendar_get_event', { event_id: booking.calendar_event_id }), /^event_id:/);
    const { bookings } = await call('booking_list', { status: 'cancelled' });
    assert.deepEqual(bookings.map(b => b.id), [booking.id]);
});

await close();
done();
