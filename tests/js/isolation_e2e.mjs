#!/usr/bin/env node
// Every user isolated (issue 16): two users by token from a real issuer (oidc_server.mjs: alice,
// bob) and two by API key (`concierge users add`, `concierge keys create --user`: kim, lee), all
// on one `concierge serve --http --auth issuer`, each with the official SDK client in a
// 2025-11-25 session (Mcp-Session-Id).
// alice and kim each leave a footprint: a preference, an echo in their history, an event, a mail
// draft, a session and (when a tool supports tasks) a task, all carrying a marker of their own.
// Each of them first sees their own footprint (so the checks that follow can fail); then another
// user (bob and kim for alice's, lee and alice for kim's: token/token, key/key and the crossings)
// sees none of it: preferences as before, no marker in history, events or mail, the task neither
// listed nor found (the same error as a made-up id), and the session id answered 404.
// Upstream accounts: kim signs in to a fake Spotify (`concierge auth login spotify --user kim`,
// fake_spotify.mjs); kim's music_now_playing reaches it with kim's token, and lee's, alice's and
// bob's never carry that token nor show the account in their concierge://services.
// A tool with task support is looked for in tools/list; without one the task part is skipped
// with a `# tasks not exercised` line (the binary had none when this was written).
//
// Usage: node isolation_e2e.mjs /path/to/concierge
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { startIssuer } from './oidc_server.mjs';
import { MemoryOAuthProvider } from './oauth_flow.mjs';
import { Concierge, issuerArgs, binaryArg } from './concierge_proc.mjs';
import { startFakeSpotify, SONG } from './fake_spotify.mjs';
import { check, assert, json, finish, STEP_TIMEOUT_MS } from './checks.mjs';

const binary = binaryArg('isolation_e2e.mjs');
const OPTS = { timeout: STEP_TIMEOUT_MS };
const PROTOCOL = '2025-11-25';
const MONTH = { start: '2030-01-01T00:00:00', end: '2030-02-01T00:00:00' };

// A caller: its name, its bearer credential (a JWT or an API key), its SDK client and session.
class User {
    constructor(name, via) {
        this.name = name;
        this.via = via;
        this.marker = `${name}-${randomBytes(6).toString('hex')}`;
    }

    bearer() {
        return this.via === 'key' ? this.key : this.provider.tokens().access_token;
    }

    async connect(mcpUrl) {
        const options = this.via === 'key' ? { requestInit: { headers: { authorization: `Bearer ${this.key}` } } } : { authProvider: this.provider };
        this.transport = new StreamableHTTPClientTransport(new URL(mcpUrl), options);
        this.client = new Client({ name: `isolation-${this.name}`, version: '0.0.0' });
        await this.client.connect(this.transport, OPTS);
        this.sessionId = this.transport.sessionId;
        assert(this.sessionId, `${this.name}: no Mcp-Session-Id`);
    }

    async call(name, args = {}) {
        const r = await this.client.callTool({ name, arguments: args }, undefined, OPTS);
        assert(r.isError !== true, `${this.name}: ${name} failed: ${json(r.content)}`);
        return r.structuredContent ?? {};
    }

    async read(uri) {
        const r = await this.client.readResource({ uri }, OPTS);
        return r.contents.map(c => c.text ?? '').join('\n');
    }

    // One JSON-RPC request over raw HTTP with this user's credential and a session id (this
    // user's own unless given): { status, message } (message: the JSON-RPC response, if any).
    async rpc(method, params, sessionId = this.sessionId) {
        const response = await fetch(this.mcpUrl, {
            method: 'POST',
            headers: {
                authorization: `Bearer ${this.bearer()}`,
                'content-type': 'application/json',
                accept: 'application/json, text/event-stream',
                'mcp-session-id': sessionId,
                'mcp-protocol-version': PROTOCOL
            },
            body: JSON.stringify({ jsonrpc: '2.0', id: 7, method, params })
        });
        const text = await response.text();
        let message;
        if ((response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
            message = text
                .split(/\r?\n/)
                .filter(l => l.startsWith('data:') && l.slice(5).trim()) // a priming event's data is empty
                .map(l => JSON.parse(l.slice(5)))
                .find(m => m.id === 7);
        } else if (text) {
            try {
                message = JSON.parse(text);
            } catch {
                message = undefined;
            }
        }
        return { status: response.status, message, text };
    }
}

const issuer = await startIssuer();
const spotify = await startFakeSpotify();
const server = new Concierge(binary);
const alice = new User('alice', 'token');
const bob = new User('bob', 'token');
const kim = new User('kim', 'key');
const lee = new User('lee', 'key');
const users = [alice, bob, kim, lee];

try {
    const keys = await check('`concierge users add` and `keys create --user` give kim and lee a key each', async () => {
        for (const u of [kim, lee]) {
            await server.run('users', 'add', u.name);
            u.key = await server.run('keys', 'create', '--user', u.name);
            assert(/^\S{20,}$/.test(u.key), `keys create printed ${json(u.key)}, not a key alone`);
        }
        assert(kim.key !== lee.key, 'the two keys are the same');
    });

    // kim's upstream account: signed in through the command, for kim alone.
    let kimUpstream;
    const signedIn = await check('`concierge auth login spotify --user kim` signs kim in to a (fake) Spotify', async () => {
        await server.signIn(['spotify', '--user', kim.name], spotify.env, spotify.origin);
        kimUpstream = spotify.issued.at(-1);
        assert(kimUpstream, 'the fake Spotify issued no token');
    }, { needs: [keys] });

    const up = await check('the server starts with --auth issuer (music from the fake Spotify)', async () => {
        await server.serve(issuerArgs(issuer.issuer), { ...spotify.env, CONCIERGE_MUSIC_PROVIDER: 'spotify' });
        for (const u of users) u.mcpUrl = server.mcpUrl;
    });

    const connected = await check('alice and bob sign in at the issuer; all four connect in their own 2025-11-25 session', async () => {
        for (const u of [alice, bob]) {
            u.provider = new MemoryOAuthProvider(u.name);
            assert((await auth(u.provider, { serverUrl: server.mcpUrl })) === 'REDIRECT', `${u.name}: no authorization`);
            assert((await auth(u.provider, { serverUrl: server.mcpUrl, authorizationCode: u.provider.takeCode() })) === 'AUTHORIZED', `${u.name}: no token`);
        }
        for (const u of users) await u.connect(server.mcpUrl);
        assert(new Set(users.map(u => u.sessionId)).size === 4, 'two users share a session id');
    }, { needs: [keys, up] });

    // Each user's preferences before anyone changes theirs.
    const before = new Map();
    const snapshot = await check('everyone reads their concierge://preferences', async () => {
        for (const u of users) before.set(u, JSON.parse(await u.read('concierge://preferences')));
    }, { needs: [connected] });

    // The tool that may run as a task, and arguments for it, when the binary has one.
    let taskTool;
    const TASK_ARGS = { echo: u => ({ text: u.marker }), get_current_time: () => ({}), calendar_list_events: () => MONTH, mail_search: u => ({ query: u.marker }) };

    const footprint = new Map(); // user -> { minutes, taskId }
    const leaves = async writer => {
        const minutes = writer === alice ? 47 : 53;
        const mine = { minutes };
        footprint.set(writer, mine);
        await writer.call('preferences_update', { default_meeting_minutes: minutes, verbosity: 'brief' });
        await writer.call('echo', { text: writer.marker });
        await writer.call('calendar_create_event', { summary: writer.marker, start: '2030-01-08T09:00:00', duration_minutes: 30 });
        await writer.call('mail_draft', { to: ['someone@example.com'], subject: writer.marker, text: writer.marker });
        if (!taskTool) {
            const tools = (await writer.client.listTools(undefined, OPTS)).tools;
            taskTool = tools.find(t => ['optional', 'required'].includes(t.execution?.taskSupport) && TASK_ARGS[t.name])?.name ?? null;
        }
        if (taskTool) {
            const r = await writer.rpc('tools/call', { name: taskTool, arguments: TASK_ARGS[taskTool](writer), task: { ttl: 60000 } });
            mine.taskId = r.message?.result?.task?.taskId;
            assert(mine.taskId, `${writer.name}: ${taskTool} as a task: HTTP ${r.status} ${json(r.message ?? r.text)}`);
        }
        // Their own footprint is there: the negative checks below can fail.
        const prefs = JSON.parse(await writer.read('concierge://preferences'));
        assert(prefs.default_meeting_minutes === minutes, `${writer.name}'s preferences ${json(prefs)}`);
        before.set(writer, prefs); // a writer's own change is its new baseline: the other writer's must not move it
        assert((await writer.read('concierge://history')).includes(writer.marker), `${writer.name}'s history lacks their echo`);
        const { events } = await writer.call('calendar_list_events', { ...MONTH, query: writer.marker });
        assert(events?.length === 1, `${writer.name} sees ${json(events)} for their own event`);
        const { messages } = await writer.call('mail_search', { query: `subject:${writer.marker} in:drafts` });
        assert(messages?.length === 1, `${writer.name} sees ${json(messages)} for their own draft`);
        const ping = await writer.rpc('ping', {});
        assert(ping.status === 200 && ping.message?.result, `${writer.name}'s own session: HTTP ${ping.status} ${json(ping.message)}`);
        if (mine.taskId) {
            const got = await writer.rpc('tasks/get', { taskId: mine.taskId });
            assert(got.message?.result?.taskId === mine.taskId, `${writer.name}'s own tasks/get: ${json(got.message)}`);
            const listed = await writer.rpc('tasks/list', {});
            assert(listed.message?.result?.tasks?.some(t => t.taskId === mine.taskId), `${writer.name}'s own tasks/list: ${json(listed.message)}`);
        }
    };

    const wrote = new Map();
    for (const writer of [alice, kim]) {
        wrote.set(writer, await check(`${writer.name} (${writer.via}) sets a preference, calls tools, creates an event and a draft${''}, opens a session and a task; sees them`, () => leaves(writer), { needs: [snapshot] }));
    }

    const seesNothingOf = async (observer, writer) => {
        const { minutes, taskId } = footprint.get(writer);
        // History first: the observer's own searches below carry the marker into its history.
        const history = await observer.read('concierge://history');
        assert(!history.includes(writer.marker), `${observer.name}'s concierge://history shows ${writer.name}'s call`);
        const echoes = await observer.read('concierge://history/tool/echo');
        assert(!echoes.includes(writer.marker), `${observer.name}'s concierge://history/tool/echo shows ${writer.name}'s call`);
        const prefs = JSON.parse(await observer.read('concierge://preferences'));
        assert(JSON.stringify(prefs) === JSON.stringify(before.get(observer)), `${observer.name}'s preferences changed: ${json(before.get(observer))} -> ${json(prefs)}`);
        assert(prefs.default_meeting_minutes !== minutes, `${observer.name} has ${writer.name}'s default_meeting_minutes`);
        const { events } = await observer.call('calendar_list_events', MONTH);
        assert(!JSON.stringify(events).includes(writer.marker), `${observer.name} sees ${writer.name}'s event: ${json(events)}`);
        const { messages } = await observer.call('mail_search', { query: '' });
        assert(!JSON.stringify(messages).includes(writer.marker), `${observer.name} sees ${writer.name}'s mail`);
        const hijack = await observer.rpc('ping', {}, writer.sessionId);
        assert(hijack.status === 404, `${observer.name} with ${writer.name}'s session id: HTTP ${hijack.status} ${hijack.text.slice(0, 200)}`);
        if (taskId) {
            const listed = await observer.rpc('tasks/list', {});
            assert(listed.status === 200 && !JSON.stringify(listed.message).includes(taskId), `${observer.name}'s tasks/list: ${json(listed.message)}`);
            const got = await observer.rpc('tasks/get', { taskId });
            const unknown = await observer.rpc('tasks/get', { taskId: `${taskId.slice(0, -2)}zz` });
            assert(got.message?.error, `${observer.name} got ${writer.name}'s task: ${json(got.message)}`);
            assert(JSON.stringify(got.message.error) === JSON.stringify(unknown.message?.error), `the refusal differs from an unknown id's: ${json(got.message.error)} vs ${json(unknown.message?.error)}`);
        }
    };

    for (const [observer, writer] of [[bob, alice], [kim, alice], [lee, kim], [alice, kim]]) {
        await check(`${observer.name} (${observer.via}) sees nothing of ${writer.name}'s (${writer.via}): preferences, history, events, mail, tasks; their session id is 404`, () => seesNothingOf(observer, writer), {
            needs: [() => wrote.get(writer)]
        });
    }

    // Upstream accounts: kim's Spotify serves kim, and no one else's call carries kim's token.
    const musicAccounts = async u => {
        const doc = JSON.parse(await u.read('concierge://services'));
        return (doc.services ?? []).filter(x => x.domain === 'music').flatMap(x => x.accounts ?? []);
    };
    const kimPlays = await check("kim's music_now_playing reaches Spotify with kim's token; kim's concierge://services shows the account signed in", async () => {
        const before = spotify.seen.length;
        const now = await kim.call('music_now_playing');
        assert(JSON.stringify(now).includes(SONG), `kim's music_now_playing: ${json(now)}`);
        const calls = spotify.seen.slice(before);
        assert(calls.length > 0 && calls.every(c => c.authorization === `Bearer ${kimUpstream}`), `Spotify saw ${json(calls.map(c => c.path))} with other tokens`);
        const accounts = await musicAccounts(kim);
        assert(accounts.some(a => a.details?.signed_in === true), `kim's music accounts: ${json(accounts)}`);
    }, { needs: [signedIn, connected] });

    for (const other of [lee, alice, bob]) {
        await check(`${other.name} (${other.via}) never reaches kim's Spotify: no call with kim's token, no signed-in account in their services`, async () => {
            const before = spotify.seen.length;
            const r = await other.client.callTool({ name: 'music_now_playing', arguments: {} }, undefined, OPTS);
            assert(!JSON.stringify(r).includes(SONG), `${other.name} got kim's player: ${json(r)}`);
            const leaked = spotify.seen.slice(before).filter(c => c.authorization.includes(kimUpstream));
            assert(leaked.length === 0, `Spotify saw kim's token on ${other.name}'s call: ${json(leaked.map(c => c.path))}`);
            const accounts = await musicAccounts(other);
            assert(!accounts.some(a => a.details?.signed_in === true), `${other.name}'s music accounts: ${json(accounts)}`);
        }, { needs: [kimPlays] });
    }

    // No tool of the binary may support tasks (none did when this was written): then the task
    // part above was not exercised, and this says so instead of passing quietly.
    if (wrote.get(alice) && !taskTool) console.log(`# tasks not exercised: no tool lists execution.taskSupport among ${json(Object.keys(TASK_ARGS))}`);

    for (const u of users) await u.client?.close().catch(() => {});
} finally {
    await server.stop();
    await issuer.close();
    await spotify.close();
    finish();
}
