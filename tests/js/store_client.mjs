#!/usr/bin/env node
// The official TypeScript SDK client over stdio against preferences, history and prompts:
// read concierge://preferences, subscribe, change it with preferences_update, receive the
// resources/updated notification, read back the history of the calls just made, get each prompt,
// complete a prompt argument and a history template variable.
//
// Usage: node store_client.mjs /path/to/concierge
// Prints `ok N - ...` / `not ok N - ...` per check and exits 0 only when all pass.

import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { makeDataDir } from './datadir.mjs';
import { closeChecked, serverExit } from './demo_server.mjs';

const [binary] = process.argv.slice(2);
if (!binary) {
    process.stderr.write('usage: node store_client.mjs /path/to/concierge\n');
    process.exit(2);
}

let n = 0, failed = 0;
async function check(name, fn) {
    n += 1;
    try {
        await fn();
        console.log(`ok ${n} - ${name}`);
    } catch (err) {
        failed += 1;
        console.log(`not ok ${n} - ${name}: ${String(err?.stack ?? err).replace(/\s+/g, ' ').slice(0, 600)}`);
    }
}

const transport = new StdioClientTransport({
    command: binary,
    args: ['--data-dir', makeDataDir(), 'serve'],
    env: Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined)),
    stderr: 'inherit'
});
const client = new Client({ name: 'store-e2e', version: '0.3.0' });
const updates = [];
let onUpdate = () => {};
client.setNotificationHandler(ResourceUpdatedNotificationSchema, n => {
    updates.push(n.params.uri);
    onUpdate();
});
const json = async uri => JSON.parse((await client.readResource({ uri })).contents[0].text);
const deadline = (ms, what) => new Promise((_, reject) => setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms).unref());

await client.connect(transport);
const exited = serverExit(transport);

await check('resources/list names preferences, history and services', async () => {
    const { resources } = await client.listResources();
    const uris = resources.map(r => r.uri);
    for (const u of ['concierge://preferences', 'concierge://history', 'concierge://services']) assert.ok(uris.includes(u), u);
    const { resourceTemplates } = await client.listResourceTemplates();
    const templates = resourceTemplates.map(t => t.uriTemplate);
    assert.ok(templates.includes('concierge://history/{date}'));
    assert.ok(templates.includes('concierge://history/tool/{tool}'));
});

let before;
await check('read concierge://preferences', async () => {
    before = await json('concierge://preferences');
    assert.equal(before.verbosity, 'normal');
    assert.equal(typeof before.time_zone, 'string');
    assert.equal(before.working_hours.mon.start, '09:00');
});

await check('preferences_update changes it and the subscriber is told', async () => {
    await client.subscribeResource({ uri: 'concierge://preferences' });
    const told = new Promise(resolve => { onUpdate = () => updates.includes('concierge://preferences') && resolve(); });
    const r = await client.callTool({ name: 'preferences_update', arguments: { verbosity: 'brief', time_zone: 'Asia/Tokyo' } });
    assert.ok(!r.isError, JSON.stringify(r));
    assert.equal(r.structuredContent.verbosity, 'brief');
    await Promise.race([told, deadline(5000, 'notifications/resources/updated')]);
    const after = await json('concierge://preferences');
    assert.equal(after.verbosity, 'brief');
    assert.equal(after.time_zone, 'Asia/Tokyo');
    assert.equal(after.units, before.units);
});

await check('an invalid preference is a tool error naming the field, nothing written', async () => {
    const r = await client.callTool({ name: 'preferences_update', arguments: { time_zone: 'Atlantis/Capital' } });
    assert.equal(r.isError, true);
    assert.match(r.content[0].text, /time_zone/);
    assert.equal((await json('concierge://preferences')).time_zone, 'Asia/Tokyo');
});

await check('the history holds the calls just made, most recent first, with this client', async () => {
    await client.callTool({ name: 'echo', arguments: { text: 'from the SDK' } });
    const h = await json('concierge://history');
    assert.equal(h.calls.length, 3);
    assert.deepEqual(h.calls.map(c => c.tool), ['echo', 'preferences_update', 'preferences_update']);
    assert.deepEqual(h.calls.map(c => c.outcome), ['ok', 'tool_error', 'ok']);
    assert.equal(h.calls[0].client.name, 'store-e2e');
    assert.equal(h.calls[0].client.version, '0.3.0');
    assert.equal(h.calls[0].transport, 'stdio');
    assert.equal(h.calls[0].summary, 'from the SDK');
    const echo = await json('concierge://history/tool/echo');
    assert.equal(echo.calls.length, 1);
});

await check('history template variables complete', async () => {
    const r = await client.complete({ ref: { type: 'ref/resource', uri: 'concierge://history/tool/{tool}' }, argument: { name: 'tool', value: 'pref' } });
    assert.deepEqual(r.completion.values, ['preferences_update']);
});

await check('every prompt renders', async () => {
    const { prompts } = await client.listPrompts();
    assert.deepEqual(prompts.map(p => p.name).sort(), ['daily_briefing', 'schedule_meeting', 'service_integration', 'voice_assistant']);
    const args = {
        voice_assistant: { user_name: 'Ada' },
        service_integration: { service: 'google' },
        daily_briefing: {},
        schedule_meeting: { attendee: 'grace@example.com', duration: '30', window: 'tomorrow' }
    };
    for (const p of prompts) {
        const r = await client.getPrompt({ name: p.name, arguments: args[p.name] });
        assert.ok(r.messages.length >= 1, p.name);
        assert.equal(r.messages[0].role, 'user');
    }
    const voice = await client.getPrompt({ name: 'voice_assistant', arguments: { user_name: 'Ada' } });
    assert.match(voice.messages[0].content.text, /Asia\/Tokyo/);  // the preference just set
    assert.match(voice.messages[0].content.text, /one short sentence/);  // verbosity brief
});

await check('a prompt argument completes', async () => {
    const r = await client.complete({ ref: { type: 'ref/prompt', name: 'service_integration' }, argument: { name: 'service', value: 'c' } });
    assert.deepEqual(r.completion.values, ['calcom', 'caldav']);
});

await check('the server exits 0 after the client closes', () => closeChecked(client, exited));
console.log(`${n - failed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
setTimeout(() => process.exit(process.exitCode), 100).unref();
