#!/usr/bin/env node
// Calendar scenarios through the official TS SDK client against `concierge serve --demo`:
// create an event and find it in the listing and missing from free time; change one occurrence
// of the demo's recurring stand-up and list the series; bad input names the field.
import assert from 'node:assert/strict';
import { binaryArg, checker, connectDemo } from './demo_server.mjs';

const binary = binaryArg('scenario_calendar.mjs');
const { check, done } = checker();
const { call, callError, close } = await connectDemo(binary);

// Wall-clock dates in the user's zone, which the test sets.
await call('preferences_update', { time_zone: 'Europe/Berlin' });
const berlinDay = offset => new Date(Date.now() + offset * 86400000).toLocaleDateString('sv-SE', { timeZone: 'Europe/Berlin' });
const tomorrow = berlinDay(1);
const ms = s => new Date(s).getTime();

await check('the demo has two calendars and a week of events', async () => {
    const { calendars } = await call('calendar_list_calendars');
    assert.deepEqual(calendars.map(c => c.id).sort(), ['primary', 'work']);
    const { events } = await call('calendar_list_events', { start: berlinDay(0), end: berlinDay(7), max_results: 100 });
    assert.ok(events.length >= 8, `only ${events.length} events`);
    assert.ok(events.some(e => e.series_id), 'no recurring occurrence');
});

let created;
await check('a created event is in the listing and not in free time', async () => {
    const r = await call('calendar_create_event', {
        summary: 'Scenario: tax advisor', start: `${tomorrow}T10:30:00`, end: `${tomorrow}T11:15:00`,
        location: 'Marktplatz 1', attendees: ['advisor@example.com']
    });
    created = r.event;
    assert.match(created.start, new RegExp(`^${tomorrow}T10:30:00\\+0[12]:00$`));
    const { events } = await call('calendar_list_events', { start: tomorrow, end: berlinDay(2) });
    assert.ok(events.some(e => e.id === created.id && e.summary === 'Scenario: tax advisor'));
    const found = await call('calendar_list_events', { start: tomorrow, end: berlinDay(2), query: 'tax advisor' });
    assert.deepEqual(found.events.map(e => e.id), [created.id]);
    const { free } = await call('calendar_find_free_time', { start: tomorrow, end: berlinDay(2), duration_minutes: 15, within_working_hours: false });
    const [s, e] = [ms(created.start), ms(created.end)];
    assert.ok(free.length > 0);
    assert.ok(free.every(f => ms(f.end) <= s || ms(f.start) >= e), 'a free slot overlaps the event');
    assert.ok(free.some(f => ms(f.end) === s), 'no free time up to the event');
    assert.ok(free.some(f => ms(f.start) === e), 'no free time after the event');
});

await check('a near-duplicate is refused naming summary; allow_duplicate overrides', async () => {
    const text = await callError('calendar_create_event', { summary: 'scenario: TAX advisor', start: `${tomorrow}T10:40:00` });
    assert.match(text, /^summary:.*allow_duplicate/);
    const r = await call('calendar_create_event', { summary: 'Scenario: tax advisor', start: `${tomorrow}T10:40:00`, allow_duplicate: true });
    assert.ok(r.conflicts.some(c => c.id === created.id), 'the overlap is not reported');
    await call('calendar_delete_event', { event_id: r.event.id });
});

await check('one occurrence of the recurring stand-up changes; the series lists the rest unchanged', async () => {
    const window = { start: berlinDay(0), end: berlinDay(14), query: 'stand-up', max_results: 100 };
    const before = (await call('calendar_list_events', window)).events;
    assert.ok(before.length >= 8, `${before.length} stand-ups`);
    const target = before[2];
    const seriesId = target.series_id;
    const { event: series } = await call('calendar_get_event', { event_id: seriesId });
    assert.match(series.recurrence, /^FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR/);
    const newStart = new Date(ms(target.start) + 90 * 60000).toISOString();
    const { event: moved } = await call('calendar_update_event', { event_id: target.id, scope: 'this', summary: 'Team stand-up (moved)', start: newStart });
    assert.equal(moved.series_id, seriesId);
    assert.equal(ms(moved.start), ms(newStart));
    assert.equal(ms(moved.end) - ms(moved.start), 15 * 60000);
    const after = (await call('calendar_list_events', window)).events;
    assert.equal(after.length, before.length);
    assert.deepEqual(after.filter(e => e.summary === 'Team stand-up (moved)').map(e => e.id), [moved.id]);
    const others = after.filter(e => e.id !== moved.id);
    assert.ok(others.every(e => e.summary === 'Team stand-up' && e.start.slice(11, 16) === before[0].start.slice(11, 16)));
    // Deleting one occurrence leaves a gap in the series.
    await call('calendar_delete_event', { event_id: before[3].id, scope: 'this' });
    const gap = (await call('calendar_list_events', window)).events;
    assert.equal(gap.length, before.length - 1);
    assert.ok(!gap.some(e => e.id === before[3].id));
});

await check('bad input is a tool error naming the field', async () => {
    assert.match(await callError('calendar_create_event', { summary: 'x', start: `${tomorrow}T10:00:00`, end: `${tomorrow}T09:00:00` }), /^end:/);
    assert.match(await callError('calendar_create_event', { summary: 'x', start: `${tomorrow}T10:00:00`, time_zone: 'Moon/Base' }), /^time_zone:/);
    assert.match(await callError('calendar_create_event', { summary: 'x', start: `${tomorrow}T10:00:00`, recurrence: 'FREQ=OFTEN' }), /^recurrence:/);
    assert.match(await callError('calendar_get_event', { event_id: 'no-such-event' }), /^event_id:/);
    assert.match(await callError('calendar_create_event', { summary: 'x', start: `${tomorrow}T10:00:00`, attendees: ['bob'] }), /^attendees\[0\]:/);
});

await close();
done();
