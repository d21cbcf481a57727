#!/usr/bin/env node
// Connecting a service from the browser, started from the chat (issue 17): `serve --auth
// builtin` with music on a (fake) Spotify, three people each signed in through a real browser
// (Chromium via playwright-core). None has connected Spotify, so music_now_playing needs it:
//   - kim's 2025-11-25 client (the official SDK, declaring URL-mode elicitation) gets error
//     -32042 URLElicitationRequired carrying the /connect URL;
//   - lee's 2026-07-28 client gets it as an input request (resultType input_required, an
//     elicitation/create in url mode);
//   - sam's client declares no elicitation: a tool error whose text carries the URL.
// Each person's browser opens the URL, the server sends it through the (fake) Spotify sign-in and
// back to /oauth/callback/spotify; the retried call then succeeds, with that person's own
// upstream token, and nobody else's connection changes.
//
// Usage: node connect_e2e.mjs /path/to/concierge
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Concierge, binaryArg } from './concierge_proc.mjs';
import { check, assert, json, finish, STEP_TIMEOUT_MS } from './checks.mjs';
import { launchBrowser, Person, screenshotDir, startRedirectReceiver, tokenThroughBrowser } from './browser.mjs';
import { startFakeSpotify, SONG } from './fake_spotify.mjs';

const binary = binaryArg('connect_e2e.mjs');
const OPTS = { timeout: STEP_TIMEOUT_MS };
const TOOL = 'music_now_playing';

// A 2026-07-28 stateless tools/call over fetch; the JSON-RPC response.
async function modernCall(mcpUrl, token, params, capabilities) {
    const r = await fetch(mcpUrl, {
        method: 'POST',
        headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'mcp-protocol-version': '2026-07-28',
            'mcp-method': 'tools/call',
            'mcp-name': params.name
        },
        body: JSON.stringify({
            jsonrpc: '2.0',
            id: 1,
            method: 'tools/call',
            params: {
                ...params,
                _meta: {
                    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
                    'io.modelcontextprotocol/clientInfo': { name: 'connect-e2e-modern', version: '0.0.0' },
                    'io.modelcontextprotocol/clientCapabilities': capabilities
                }
            }
        })
    });
    const text = await r.text();
    assert(r.status === 200, `HTTP ${r.status}: ${text.slice(0, 300)}`);
    if ((r.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
        const datas = text.split(/\r?\n/).filter(l => l.startsWith('data:')).map(l => l.slice(5).trim()).filter(Boolean);
        return datas.map(d => JSON.parse(d)).find(m => m.id === 1);
    }
    return JSON.parse(text);
}

// The person's browser at the connect URL: through the fake Spotify and back. The final page.
async function connectInBrowser(person, url) {
    const page = await person.context.newPage();
    try {
        const r = await page.goto(url);
        // A page with a Connect button (a POST) rather than a redirect straight away.
        const button = page.locator('form button[type=submit]');
        if (!/\/oauth\/callback\//.test(page.url()) && (await button.count()) > 0) {
            await Promise.all([page.waitForURL(/\/oauth\/callback\//), button.first().click()]);
        }
        assert(/\/oauth\/callback\/spotify/.test(page.url()), `the browser ended at ${page.url()} (HTTP ${r?.status()})`);
        const text = (await page.textContent('body')) ?? '';
        assert(/connected/i.test(text), `the callback page: ${text.replace(/\s+/g, ' ').slice(0, 200)}`);
    } finally {
        await page.close();
    }
}

const textOf = result => (result?.content ?? []).map(c => c.text ?? '').join('\n');
const urlIn = text => /https?:\/\/\S+\/connect\/spotify\S*/.exec(text)?.[0]?.replace(/[).,;"']+$/, '');

const spotify = await startFakeSpotify();
const server = new Concierge(binary);
const receiver = await startRedirectReceiver();
const people = { kim: undefined, lee: undefined, sam: undefined };
let browser;
try {
    const up = await check('three users with passwords; `serve --auth builtin` with music on the fake Spotify', async () => {
        for (const name of Object.keys(people)) {
            await server.run('users', 'add', name);
            await server.runWithInput(`password-of-${name}\n`, 'users', 'passwd', name, '--password-stdin');
        }
        await server.serve(['--auth', 'builtin'], { ...spotify.env, CONCIERGE_MUSIC_PROVIDER: 'spotify' });
        browser = await launchBrowser();
    });

    const tokens = await check('each signs in through the browser and gets a token', async () => {
        for (const name of Object.keys(people)) {
            const person = await Person.open(browser, { user: name, password: `password-of-${name}` });
            const token = await tokenThroughBrowser({ origin: server.origin, resource: server.mcpUrl, person, redirectUri: receiver.uri, clientName: `connect-e2e-${name}` });
            people[name] = { person, token: token.access_token };
            if (name === 'kim') person.shots = screenshotDir();
        }
    }, { needs: [up], timeout: 60000 });

    // -- kim: 2025-11-25, the official SDK client declaring URL-mode elicitation -------------
    let kim;
    let kimUrl;
    const kimAsked = await check('2025-11-25 client with elicitation.url: -32042 URLElicitationRequired with the connect URL', async () => {
        kim = new Client({ name: 'connect-e2e-kim', version: '0.0.0' }, { capabilities: { elicitation: { url: {} } } });
        const headers = { authorization: `Bearer ${people.kim.token}` };
        await kim.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl), { requestInit: { headers } }), OPTS);
        let error;
        try {
            await kim.callTool({ name: TOOL, arguments: {} }, undefined, OPTS);
        } catch (err) {
            error = err;
        }
        assert(error?.code === -32042, `the call ended with ${error?.constructor?.name} ${error?.code}: ${error?.message}`);
        const elicitation = error.data?.elicitations?.[0];
        assert(elicitation?.mode === 'url' && elicitation.elicitationId && elicitation.message, `data ${json(error.data)}`);
        assert(elicitation.url.startsWith(`${server.origin}/connect/spotify`), `url ${elicitation.url}`);
        kimUrl = elicitation.url;
        // The page the link leads to, before connecting: Spotify offered (the README's picture).
        const page = await people.kim.person.context.newPage();
        const r = await page.goto(`${server.origin}/connect`);
        const text = (await page.textContent('body')) ?? '';
        assert(r.status() === 200 && /spotify/i.test(text), `/connect: HTTP ${r.status()}: ${text.replace(/\s+/g, ' ').slice(0, 200)}`);
        await people.kim.person.screenshot(page, 'connect');
        await page.close();
    }, { needs: [tokens] });

    const kimDone = await check('kim completes the (fake) Spotify sign-in in the browser; the retried call succeeds', async () => {
        const before = spotify.issued.length;
        await connectInBrowser(people.kim.person, kimUrl);
        assert(spotify.issued.length === before + 1, 'the fake Spotify issued no token');
        people.kim.upstream = spotify.issued.at(-1);
        const r = await kim.callTool({ name: TOOL, arguments: {} }, undefined, OPTS);
        assert(r.isError !== true && JSON.stringify(r).includes(SONG), `retry ${json(r)}`);
        assert(spotify.seen.at(-1).authorization === `Bearer ${people.kim.upstream}`, 'the call did not carry kim\'s upstream token');
    }, { needs: [kimAsked], timeout: 30000 });

    // -- lee: 2026-07-28, the multi-round-trip input request --------------------------------
    const caps = { elicitation: { url: {} } };
    let leeAsk;
    const leeAsked = await check('2026-07-28 client: an input request (elicitation/create, url mode) although kim is connected', async () => {
        const m = await modernCall(server.mcpUrl, people.lee.token, { name: TOOL, arguments: {} }, caps);
        assert(m?.result?.resultType === 'input_required', `result ${json(m)}`);
        const [key, request] = Object.entries(m.result.inputRequests ?? {})[0] ?? [];
        assert(request?.method === 'elicitation/create' && request.params?.mode === 'url', `inputRequests ${json(m.result.inputRequests)}`);
        assert(request.params.url.startsWith(`${server.origin}/connect/spotify`), `url ${request.params.url}`);
        leeAsk = { key, url: request.params.url, requestState: m.result.requestState };
    }, { needs: [kimDone] });

    await check('lee completes it in the browser; the retry with inputResponses succeeds with lee\'s own upstream token', async () => {
        await connectInBrowser(people.lee.person, leeAsk.url);
        const leeUpstream = spotify.issued.at(-1);
        assert(leeUpstream !== people.kim.upstream, 'lee got kim\'s upstream token');
        const params = { name: TOOL, arguments: {}, inputResponses: { [leeAsk.key]: { action: 'accept' } } };
        if (leeAsk.requestState) params.requestState = leeAsk.requestState;
        const m = await modernCall(server.mcpUrl, people.lee.token, params, caps);
        assert(m?.result?.resultType === 'complete' && m.result.isError !== true && JSON.stringify(m.result).includes(SONG), `retry ${json(m)}`);
        assert(spotify.seen.at(-1).authorization === `Bearer ${leeUpstream}`, 'the call did not carry lee\'s upstream token');
        // kim's connection is kim's still.
        const k = await kim.callTool({ name: TOOL, arguments: {} }, undefined, OPTS);
        assert(k.isError !== true && spotify.seen.at(-1).authorization === `Bearer ${people.kim.upstream}`, `kim after lee connected: ${json(k)}`);
    }, { needs: [leeAsked], timeout: 30000 });

    // -- sam: no elicitation capability ----------------------------------------------------
    await check('a client without elicitation: a tool error carrying the URL; sam stays unconnected', async () => {
        const m = await modernCall(server.mcpUrl, people.sam.token, { name: TOOL, arguments: {} }, {});
        assert(m?.result?.isError === true, `result ${json(m)}`);
        const url = urlIn(textOf(m.result));
        assert(url && url.startsWith(`${server.origin}/connect/spotify`), `no connect URL in ${json(m.result.content)}`);
        const before = spotify.seen.length;
        const again = await modernCall(server.mcpUrl, people.sam.token, { name: TOOL, arguments: {} }, {});
        assert(again?.result?.isError === true && spotify.seen.length === before, 'sam reached Spotify without connecting');
    }, { needs: [tokens] });
} finally {
    for (const p of Object.values(people)) await p?.person.close().catch(() => {});
    await browser?.close().catch(() => {});
    await receiver.close();
    await server.stop();
    await spotify.close();
}
finish();
