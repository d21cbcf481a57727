#!/usr/bin/env node
// Concierge as an OAuth 2.1 resource server (issue 16) with a real external authorization server
// on loopback (oidc_server.mjs: npm oidc-provider) and the official SDK's OAuth client:
//   1. RFC 9728 metadata; no token -> 401 naming the metadata; /healthz stays public;
//   2. StreamableHTTPClientTransport + authProvider: 401 -> discovery -> dynamic registration ->
//      PKCE authorization (login and consent driven over HTTP) -> finishAuth -> tools/list and
//      a tool call;
//   3. refused with 401 error="invalid_token": expired, bad signature, another audience, another
//      issuer's key; a token in the query string is refused;
//   4. a token with only calendar:read sees only the calendar read tools; calendar_create_event
//      answers 403 insufficient_scope naming calendar:write; the SDK's step-up re-authorization
//      (its own reaction to that 403) gets calendar:write and the retried call succeeds.
//
// Usage: node oauth_e2e.mjs /path/to/concierge
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { auth, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { startIssuer, CONCIERGE_SCOPES, EXPIRED_LOGIN_PREFIX } from './oidc_server.mjs';
import { MemoryOAuthProvider, obtainToken, registerClient, decodeJwt, corruptSignature } from './oauth_flow.mjs';
import { Concierge, issuerArgs, binaryArg } from './concierge_proc.mjs';
import { check, assert, json, finish, STEP_TIMEOUT_MS } from './checks.mjs';

const binary = binaryArg('oauth_e2e.mjs');
const OPTS = { timeout: STEP_TIMEOUT_MS };

// RFC 6750 challenge parameters (quoted values only, which is all we send and expect).
function challenge(response) {
    const header = response.headers.get('www-authenticate') ?? '';
    const params = Object.fromEntries([...header.matchAll(/([a-z_]+)="([^"]*)"/g)].map(m => [m[1], m[2]]));
    return { header, scheme: header.split(' ')[0], ...params };
}

// One initialize over raw HTTP, as a client with `token` (none: no Authorization header).
async function initialize(url, token) {
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    if (token) headers.authorization = `Bearer ${token}`;
    const response = await fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify({
            jsonrpc: '2.0',
            id: 1,
            method: 'initialize',
            params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'oauth-e2e-raw', version: '0.0.0' } }
        })
    });
    response.text_ = await response.text();
    return response;
}

// A fetch that remembers every response's status and challenge (what the SDK saw).
function recordingFetch(log) {
    return async (url, init) => {
        const response = await fetch(url, init);
        log.push({ url: String(url), method: init?.method ?? 'GET', status: response.status, challenge: challenge(response) });
        return response;
    };
}

const issuer = await startIssuer();
const server = new Concierge(binary);
try {
    const up = await check('oidc-provider and `concierge serve --http --auth issuer` start', async () => {
        await server.serve(issuerArgs(issuer.issuer));
    });
    const metadataUrl = () => `${server.origin}/.well-known/oauth-protected-resource/mcp`;

    await check('RFC 9728 metadata: resource, authorization_servers, scopes_supported, header only', async () => {
        for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
            const r = await fetch(`${server.origin}${path}`);
            const body = await r.text();
            assert(r.status === 200, `${path}: HTTP ${r.status}: ${body.slice(0, 200)}`);
            const m = JSON.parse(body);
            assert(m.resource === server.mcpUrl, `${path}: resource ${json(m.resource)}, expected ${server.mcpUrl}`);
            assert(Array.isArray(m.authorization_servers) && m.authorization_servers.includes(issuer.issuer), `${path}: authorization_servers ${json(m.authorization_servers)}`);
            const missing = CONCIERGE_SCOPES.filter(s => !m.scopes_supported?.includes(s));
            assert(missing.length === 0, `${path}: scopes_supported lacks ${json(missing)}`);
            assert(JSON.stringify(m.bearer_methods_supported) === '["header"]', `${path}: bearer_methods_supported ${json(m.bearer_methods_supported)}`);
        }
    }, { needs: [up] });

    await check('no token: 401, WWW-Authenticate Bearer resource_metadata=<metadata URL>, no error code', async () => {
        const r = await initialize(server.mcpUrl);
        const c = challenge(r);
        assert(r.status === 401, `HTTP ${r.status}: ${r.text_.slice(0, 200)}`);
        assert(c.scheme === 'Bearer', `WWW-Authenticate ${json(c.header)}`);
        assert(c.resource_metadata === metadataUrl(), `resource_metadata ${json(c.resource_metadata)}, expected ${metadataUrl()}`);
        assert(c.error === undefined, `a request without a token got error=${c.error} (RFC 6750 3.1: none)`);
        const unknown = (c.scope ?? '').split(' ').filter(s => !CONCIERGE_SCOPES.includes(s));
        assert(c.scope && unknown.length === 0, `scope ${json(c.scope)}: not Concierge's scopes ${json(unknown)}`);
        for (const [method, path] of [['GET', '/mcp'], ['DELETE', '/mcp'], ['GET', '/sse']]) {
            const other = await fetch(`${server.origin}${path}`, { method, headers: { accept: 'text/event-stream', 'mcp-session-id': 'x' } });
            await other.body?.cancel();
            assert(other.status === 401 && challenge(other).resource_metadata === metadataUrl(), `${method} ${path}: HTTP ${other.status} ${json(challenge(other).header)}`);
        }
        const health = await fetch(`${server.origin}/healthz`);
        await health.body?.cancel();
        assert(health.status === 200, `/healthz without a token: HTTP ${health.status}`);
    }, { needs: [up] });

    // -- 2. The SDK's OAuth client, from 401 to a tool call ---------------------------------
    const alice = new MemoryOAuthProvider('alice');
    const seen = [];
    let first;
    const unauthorized = await check('SDK connect without a token: UnauthorizedError after discovery, registration and an authorization', async () => {
        first = new StreamableHTTPClientTransport(new URL(server.mcpUrl), { authProvider: alice, fetch: recordingFetch(seen) });
        let error;
        try {
            await new Client({ name: 'oauth-e2e', version: '0.0.0' }).connect(first, OPTS);
        } catch (err) {
            error = err;
        }
        assert(error instanceof UnauthorizedError, `connect ended with ${error?.constructor?.name}: ${error?.message}`);
        assert(seen[0]?.status === 401, `first response ${json(seen[0])}`);
        assert(alice.clientInformation()?.client_id, 'no client registered with the issuer');
        assert(alice.authorizationUrls.length === 1, `${alice.authorizationUrls.length} authorizations`);
        const url = alice.authorizationUrls[0];
        assert(url.origin === issuer.issuer, `the authorization went to ${url.origin}`);
        assert(url.searchParams.get('resource') === server.mcpUrl, `resource ${url.searchParams.get('resource')}`);
        assert(url.searchParams.get('code_challenge_method') === 'S256', 'no S256 PKCE');
    }, { needs: [up] });

    let aliceClient;
    const connected = await check('finishAuth(code) -> a JWT for our audience; reconnect; tools/list; get_current_time', async () => {
        await first.finishAuth(alice.takeCode());
        const { payload } = decodeJwt(alice.tokens().access_token);
        assert(payload.aud === server.mcpUrl && payload.sub === 'alice' && payload.iss === issuer.issuer, `token ${json(payload)}`);
        aliceClient = new Client({ name: 'oauth-e2e', version: '0.0.0' });
        await aliceClient.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl), { authProvider: alice }), OPTS);
        const names = (await aliceClient.listTools(undefined, OPTS)).tools.map(t => t.name);
        for (const want of ['echo', 'get_current_time', 'calendar_create_event', 'mail_send', 'preferences_update']) {
            assert(names.includes(want), `${want} not listed for a token with every scope: ${json(names)}`);
        }
        const r = await aliceClient.callTool({ name: 'get_current_time', arguments: { time_zone: 'Asia/Tokyo' } }, undefined, OPTS);
        assert(r.isError !== true && r.structuredContent?.time_zone === 'Asia/Tokyo', `get_current_time ${json(r)}`);
    }, { needs: [unauthorized] });

    // -- 3. Refusals -------------------------------------------------------------------------
    const good = () => alice.tokens().access_token;
    const refusedAsInvalid = async (token, what) => {
        const r = await initialize(server.mcpUrl, token);
        const c = challenge(r);
        assert(r.status === 401, `${what}: HTTP ${r.status}: ${r.text_.slice(0, 200)}`);
        assert(c.scheme === 'Bearer' && c.error === 'invalid_token', `${what}: WWW-Authenticate ${json(c.header)}`);
        assert(c.resource_metadata === metadataUrl(), `${what}: resource_metadata ${json(c.resource_metadata)}`);
        assert(!r.text_.includes(token) && !server.stderr.includes(token), `${what}: the token was echoed in the response or the log`);
    };

    const control = await check('control: the same raw initialize with the good token is 200', async () => {
        const r = await initialize(server.mcpUrl, good());
        assert(r.status === 200, `HTTP ${r.status}: ${r.text_.slice(0, 200)}`);
    }, { needs: [connected] });

    await check('an expired token (signed by the issuer, exp an hour ago): 401 invalid_token', async () => {
        const t = await obtainToken({ issuer: issuer.issuer, resource: server.mcpUrl, scope: 'calendar:read', login: `${EXPIRED_LOGIN_PREFIX}alice` });
        assert(decodeJwt(t.access_token).payload.exp < Date.now() / 1000 - 3000, 'the issuer did not make it expired');
        await refusedAsInvalid(t.access_token, 'expired');
    }, { needs: [control] });

    await check('a bad signature (one byte flipped): 401 invalid_token', async () => {
        await refusedAsInvalid(corruptSignature(good()), 'bad signature');
    }, { needs: [control] });

    await check('another audience (a token for http://127.0.0.1:1/mcp): 401 invalid_token', async () => {
        const t = await obtainToken({ issuer: issuer.issuer, resource: 'http://127.0.0.1:1/mcp', scope: 'calendar:read', login: 'alice' });
        assert(decodeJwt(t.access_token).payload.aud === 'http://127.0.0.1:1/mcp', 'the issuer set another aud');
        await refusedAsInvalid(t.access_token, 'another audience');
    }, { needs: [control] });

    await check('another issuer (same audience, signed with keys Concierge does not trust): 401 invalid_token', async () => {
        const stranger = await startIssuer();
        try {
            const t = await obtainToken({ issuer: stranger.issuer, resource: server.mcpUrl, scope: 'calendar:read', login: 'alice' });
            await refusedAsInvalid(t.access_token, 'another issuer');
        } finally {
            await stranger.close();
        }
    }, { needs: [control] });

    await check('a good token in the query string (access_token=) is refused: 400 or 401, never served', async () => {
        for (const path of ['/mcp', '/sse']) {
            const url = `${server.origin}${path}?access_token=${encodeURIComponent(good())}`;
            const r = path === '/mcp' ? await initialize(url) : await fetch(url, { headers: { accept: 'text/event-stream' } });
            if (path === '/sse') await r.body?.cancel();
            assert(r.status === 400 || r.status === 401, `${path}?access_token=: HTTP ${r.status}`);
            if (r.status === 401) assert(challenge(r).scheme === 'Bearer', `${path}: 401 without a Bearer challenge`);
        }
        // And alongside a good header: still refused (RFC 6750 2: one method only).
        const both = await initialize(`${server.mcpUrl}?access_token=${encodeURIComponent(good())}`, good());
        assert(both.status === 400 || both.status === 401, `header + query: HTTP ${both.status}`);
    }, { needs: [control] });

    // -- 4. Only calendar:read, then step-up -------------------------------------------------
    // Registered beforehand without a scope, as a client registered once for all of Concierge:
    // registering through the SDK with scope=calendar:read would hold the client to it and the
    // issuer would refuse the step-up (oidc_issuer_check shows both).
    const carol = new MemoryOAuthProvider('carol');
    const carolSeen = [];
    let carolClient;
    let carolTools = [];
    const narrow = await check('a calendar:read token: tools/list shows exactly the calendar read tools (and echo, get_current_time)', async () => {
        carol.saveClientInformation(await registerClient(issuer.issuer, 'carol'));
        assert((await auth(carol, { serverUrl: server.mcpUrl, scope: 'calendar:read' })) === 'REDIRECT', 'no authorization started');
        assert((await auth(carol, { serverUrl: server.mcpUrl, authorizationCode: carol.takeCode() })) === 'AUTHORIZED', 'code not exchanged');
        assert(decodeJwt(carol.tokens().access_token).payload.scope === 'calendar:read', `scope ${decodeJwt(carol.tokens().access_token).payload.scope}`);
        const all = (await aliceClient.listTools(undefined, OPTS)).tools;
        const expected = all
            .filter(t => t.name === 'echo' || t.name === 'get_current_time' || (t.name.startsWith('calendar_') && t.annotations?.readOnlyHint === true))
            .map(t => t.name)
            .sort();
        assert(expected.includes('calendar_list_events') && !expected.includes('calendar_create_event'), `read tools by annotation: ${json(expected)}`);
        carolClient = new Client({ name: 'oauth-e2e-carol', version: '0.0.0' });
        await carolClient.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl), { authProvider: carol, fetch: recordingFetch(carolSeen) }), OPTS);
        carolTools = (await carolClient.listTools(undefined, OPTS)).tools.map(t => t.name).sort();
        assert(JSON.stringify(carolTools) === JSON.stringify(expected), `listed ${json(carolTools)}, expected ${json(expected)}`);
        const r = await carolClient.callTool({ name: 'calendar_list_events', arguments: {} }, undefined, OPTS);
        assert(r.isError !== true, `calendar_list_events with calendar:read: ${json(r.content)}`);
    }, { needs: [connected] });

    const summary = `step-up ${Date.now()}`;
    const stepped = await check('calendar_create_event: 403 insufficient_scope naming calendar:write; the SDK re-authorizes for it', async () => {
        const before = carol.authorizationUrls.length;
        let error;
        try {
            await carolClient.callTool({ name: 'calendar_create_event', arguments: { summary, start: '2030-01-07T10:00:00', duration_minutes: 30 } }, undefined, OPTS);
        } catch (err) {
            error = err;
        }
        const refused = carolSeen.find(s => s.status === 403);
        assert(refused, `no 403 seen; statuses ${json(carolSeen.map(s => s.status))}; call ended with ${error?.message}`);
        const c = refused.challenge;
        assert(c.scheme === 'Bearer' && c.error === 'insufficient_scope', `403 challenge ${json(c.header)}`);
        assert(c.scope?.split(' ').includes('calendar:write'), `403 scope ${json(c.scope)} does not name calendar:write`);
        assert(c.resource_metadata === metadataUrl(), `403 resource_metadata ${json(c.resource_metadata)}`);
        assert(error instanceof UnauthorizedError, `the call ended with ${error?.constructor?.name}: ${error?.message} (expected the SDK to start a new authorization)`);
        assert(carol.authorizationUrls.length === before + 1, 'the SDK did not send carol to authorize again');
        const asked = carol.authorizationUrls.at(-1).searchParams.get('scope')?.split(' ') ?? [];
        assert(asked.includes('calendar:write'), `the step-up asked for ${json(asked)}`);
        assert(carol.browser.logins === 1, `the step-up asked carol to log in again (${carol.browser.logins} logins)`);
    }, { needs: [narrow] });

    await check('after finishAuth the retried calendar_create_event succeeds', async () => {
        const transport = carolClient.transport;
        await transport.finishAuth(carol.takeCode());
        assert(decodeJwt(carol.tokens().access_token).payload.scope.split(' ').includes('calendar:write'), 'the new token lacks calendar:write');
        const r = await carolClient.callTool({ name: 'calendar_create_event', arguments: { summary, start: '2030-01-07T10:00:00', duration_minutes: 30 } }, undefined, OPTS);
        assert(r.isError !== true, `retried call: ${json(r.content)}`);
    }, { needs: [stepped] });

    for (const client of [aliceClient, carolClient]) await client?.close().catch(() => {});
} finally {
    await server.stop();
    await issuer.close();
    finish();
}
