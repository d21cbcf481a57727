#!/usr/bin/env node
// Mail scenarios through the official TS SDK client against `concierge serve --demo`: every
// query operator returns what it says, a reply threads with its original, messages change,
// malformed addresses name the field.
import assert from 'node:assert/strict';
import { binaryArg, checker, connectDemo } from './demo_server.mjs';

const binary = binaryArg('scenario_mail.mjs');
const { check, done } = checker();
const { call, callError, close } = await connectDemo(binary);
const search = async (query, max_results = 100) => (await call('mail_search', { query, max_results })).messages;
const all = await search('');

await check('the demo mailbox: 20 messages in threads, newest first', async () => {
    assert.equal(all.length, 20);
    for (let i = 1; i < all.length; i++) assert.ok(all[i - 1].date >= all[i].date);
    assert.ok(new Set(all.map(m => m.thread_id)).size < 20);
});

await check('each operator returns exactly the messages it describes', async () => {
    const from = await search('from:ravi');
    assert.ok(from.length > 0 && from.every(m => /ravi/i.test(m.from)));
    assert.equal(from.length, all.filter(m => /ravi/i.test(m.from)).length);
    const to = await search('to:priya');
    assert.ok(to.length > 0 && to.every(m => [...m.to, ...m.cc].some(a => /priya/i.test(a))));
    const subject = await search('subject:"weekend hiking"');
    assert.equal(subject.length, 4);
    const unicode = await search('subject:Überblick');
    assert.equal(unicode.length, 2);
    const unread = await search('is:unread');
    assert.deepEqual(unread.map(m => m.id), all.filter(m => m.unread).map(m => m.id));
    const read = await search('is:read');
    assert.equal(read.length + unread.length, all.length);
    const starred = await search('is:starred');
    assert.ok(starred.length > 0 && starred.every(m => m.starred));
    const attach = await search('has:attachment');
    assert.deepEqual(attach.map(m => m.id), all.filter(m => m.has_attachments).map(m => m.id));
    const label = await search('label:work');
    assert.ok(label.length > 0 && label.every(m => m.labels.includes('Work')));
    const notLabel = await search('-label:Newsletters');
    assert.equal(notLabel.length, all.length - (await search('label:Newsletters')).length);
    const sent = await search('in:sent');
    assert.ok(sent.length > 0 && sent.every(m => m.labels.includes('SENT')));
    const cut = all[10].date.slice(0, 10);
    const before = await search(`before:${cut}`);
    assert.ok(before.every(m => m.date.slice(0, 10) < cut));
    const after = await search(`after:${cut}`);
    assert.ok(after.every(m => m.date.slice(0, 10) >= cut));
    assert.equal(before.length + after.length, all.length);
    const words = await search('sandwiches');
    assert.equal(words.length, 1);
    assert.match(words[0].snippet, /sandwiches/);
    const combined = await search('from:sam is:unread subject:hiking');
    assert.ok(combined.length > 0 && combined.every(m => /sam/i.test(m.from) && m.unread));
    assert.match(await callError('mail_search', { query: 'before:tomorrow' }), /^query:/);
});

await check('read a message and a thread; the body is capped with a marker', async () => {
    const [invoice] = await search('subject:invoice');
    const { messages: [m] } = await call('mail_read', { message_id: invoice.id });
    assert.match(m.body, /EUR 84\.20/);
    assert.deepEqual(m.attachments.map(a => [a.filename, a.mime_type]), [['invoice-2041.pdf', 'application/pdf']]);
    assert.ok(m.attachments[0].size > 0);
    const [report] = await search('subject:"quarterly report"');
    const { messages } = await call('mail_read', { thread_id: report.thread_id });
    assert.equal(messages.length, 3);
    assert.ok(messages[0].date <= messages[2].date);
    const capped = await call('mail_read', { message_id: messages[0].id, max_body_chars: 100 });
    assert.equal(capped.messages[0].truncated, true);
    assert.match(capped.messages[0].body, /\[… truncated, \d+ more bytes\]$/);
});

await check('a reply is threaded with the original and filed in Sent', async () => {
    const [dinner] = await search('subject:"dinner on friday"');
    const { message: reply } = await call('mail_send', { reply_to_message_id: dinner.id, text: 'We would love to! See you at 7.' });
    assert.equal(reply.subject, 'Re: Dinner on Friday?');
    assert.equal(reply.thread_id, dinner.thread_id);
    assert.deepEqual(reply.to, ['Priya Shah <priya.shah@example.com>']);
    const { messages } = await call('mail_read', { thread_id: dinner.thread_id });
    assert.deepEqual(messages.map(m => m.id), [dinner.id, reply.id]);
    assert.equal(messages[1].in_reply_to, messages[0].message_id_header);
    assert.deepEqual(messages[1].references, [messages[0].message_id_header]);
    assert.ok((await search('in:sent')).some(m => m.id === reply.id));
    const { message: draft } = await call('mail_draft', { to: ['Sam <sam.okafor@example.com>'], subject: 'Map', text: 'Route attached soon' });
    assert.ok((await search('in:drafts')).some(m => m.id === draft.id));
});

await check('mark read, star, archive and trash several at once', async () => {
    const unread = await search('is:unread');
    const two = unread.slice(0, 2).map(m => m.id);
    await call('mail_modify', { message_ids: two, read: true, starred: true });
    const starred = await search('is:starred');
    assert.ok(two.every(id => starred.some(m => m.id === id)));
    assert.equal((await search('is:unread')).length, unread.length - 2);
    await call('mail_modify', { message_ids: [two[0]], archive: true });
    assert.ok(!(await search('in:inbox')).some(m => m.id === two[0]));
    assert.ok((await search('')).some(m => m.id === two[0]));  // archived, not gone
    await call('mail_modify', { message_ids: [two[1]], trash: true });
    assert.ok(!(await search('')).some(m => m.id === two[1]));
    assert.ok((await search('in:trash')).some(m => m.id === two[1]));
    const { labels } = await call('mail_list_labels');
    assert.equal(labels.find(l => l.name === 'TRASH').total, 1);
});

await check('malformed addresses and unknown ids name the field; nothing is sent', async () => {
    const before = (await search('in:sent')).length;
    assert.match(await callError('mail_send', { to: ['ada@example.com', 'not-an-address'], text: 'x' }), /^to\[1\]:/);
    assert.match(await callError('mail_send', { to: ['ada@example.com'], bcc: ['@nowhere'], text: 'x' }), /^bcc\[0\]:/);
    assert.match(await callError('mail_read', { message_id: 'nope' }), /^message_id:/);
    assert.match(await callError('mail_modify', { message_ids: ['nope'], read: true }), /^message_ids:/);
    assert.equal((await search('in:sent')).length, before);
});

await close();
done();
