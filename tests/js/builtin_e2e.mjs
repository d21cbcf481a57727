#!/usr/bin/env node
// Concierge as its own authorization server (`serve --auth builtin`, issue 17), driven the way a
// person and a remote MCP client use it: the official SDK's OAuth client with no pre-registration
// (dynamic registration), and a real browser (Debian's Chromium, headless, through
// playwright-core) filling the server's sign-in form and approving its consent page.
//   1. RFC 8414 metadata, and the RFC 9728 metadata naming it;
//   2. SDK connect: 401 -> discovery -> registration -> the browser signs in and consents ->
//      finishAuth -> tools listed and called;
//   3. the access token expires; the SDK refreshes it (no second authorization) and goes on;
//   4. the person unticks a scope: the token lacks it; "Deny" comes back as access_denied;
//   5. a Client ID Metadata Document served by the test is accepted as client_id; a redirect_uri
//      not in it is refused with a page, no redirect;
//   6. /connect answers the signed-in person, and sends a signed-out browser to sign in.
// Screenshots of the sign-in and consent pages (connect_e2e.mjs: the connect page) go to $CONCIERGE_SCREENSHOTS (default
// ./screenshots); docs/screenshots/ holds the ones the README shows.
//
// Usage: node builtin_e2e.mjs /path/to/concierge
import { createServer } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Concierge, binaryArg } from './concierge_proc.mjs';
import { check, assert, json, finish, STEP_TIMEOUT_MS } from './checks.mjs';
import { launchBrowser, Person, screenshotDir, startRedirectReceiver } from './browser.mjs';
import { decodeJwt, pkcePair } from './oauth_flow.mjs';

const binary = binaryArg('builtin_e2e.mjs');
const OPTS = { timeout: STEP_TIMEOUT_MS };
const TOKEN_TTL_S = 3;
const PASSWORD = 'correct horse battery staple';

// The SDK's OAuthClientProvider, in memory; redirectToAuthorization hands the URL to a Person.
class BrowserOAuthProvider {
    constructor(person, redirectUri, clientName) {
        this.person = person;
        this.redirectUri = redirectUri;
        this.clientName = clientName;
        this.authorizationUrls = [];
        this._client = undefined;
        this._tokens = undefined;
        this._verifier = undefined;
        this._state = undefined;
        this._code = undefined;
    }
    get redirectUrl() {
        return this.redirectUri;
    }
    get clientMetadata() {
        return {
            client_name: this.clientName,
            redirect_uris: [this.redirectUri],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            token_endpoint_auth_method: 'none'
        };
    }
    state() {
        this._state = Math.random().toString(36).slice(2);
        return this._state;
    }
    clientInformation() {
        return this._client;
    }
    saveClientInformation(info) {
        this._client = info;
    }
    tokens() {
        return this._tokens;
    }
    saveTokens(tokens) {
        this._tokens = tokens;
    }
    saveCodeVerifier(verifier) {
        this._verifier = verifier;
    }
    codeVerifier() {
        return this._verifier;
    }
    async redirectToAuthorization(url) {
        this.authorizationUrls.push(new URL(url));
        const back = await this.person.authorize(url);
        if (back.get('state') !== this._state) throw new Error(`state ${back.get('state')} came back, not ${this._state}`);
        if (back.get('error')) throw new Error(`authorization refused: ${back.get('error')}`);
        this._code = back.get('code');
    }
    takeCode() {
        const code = this._code;
        this._code = undefined;
        return code;
    }
}

// Every request the SDK made: method, URL, status, and the grant type of token requests.
function recordingFetch(log) {
    return async (url, init) => {
        const response = await fetch(url, init);
        const body = init?.body ? String(init.body) : '';
        log.push({ url: String(url), method: init?.method ?? 'GET', status: response.status, grant: new URLSearchParams(body).get('grant_type') });
        return response;
    };
}

async function jsonOf(response, what) {
    const text = await response.text();
    assert(response.ok, `${what}: HTTP ${response.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text);
}

// A Client ID Metadata Document on loopback: its URL is the client_id.
async function startMetadataDocument(redirectUri) {
    let document;
    const server = createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(document));
    });
    await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${server.address().port}/client.json`;
    document = {
        client_id: url,
        client_name: 'Metadata Document Client',
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none'
    };
    return { url, close: () => new Promise(resolve => server.close(() => resolve())) };
}

function authorizationUrl(meta, params) {
    const url = new URL(meta.authorization_endpoint);
    url.search = new URLSearchParams(params).toString();
    return url;
}

const server = new Concierge(binary);
const receiver = await startRedirectReceiver();
let browser;
let person;
try {
    const up = await check('`users add`, `users passwd --password-stdin`, `serve --auth builtin` start', async () => {
        await server.run('users', 'add', 'alice');
        const out = await server.runWithInput(`${PASSWORD}\n`, 'users', 'passwd', 'alice', '--password-stdin');
        assert(!out.includes(PASSWORD), 'users passwd printed the password');
        await server.serve(['--auth', 'builtin', '--auth-token-ttl', String(TOKEN_TTL_S), '--allow-http-client-metadata']);
        browser = await launchBrowser();
        person = await Person.open(browser, { user: 'alice', password: PASSWORD });
        person.shots = screenshotDir();
    });

    let meta;
    const discovered = await check('RFC 8414 metadata names every endpoint, S256 only, CIMD; RFC 9728 metadata names the issuer', async () => {
        meta = await jsonOf(await fetch(`${server.origin}/.well-known/oauth-authorization-server`), 'RFC 8414 metadata');
        assert(meta.issuer === server.origin, `issuer ${json(meta.issuer)}, expected ${server.origin}`);
        for (const k of ['authorization_endpoint', 'token_endpoint', 'registration_endpoint', 'revocation_endpoint', 'jwks_uri']) {
            assert(typeof meta[k] === 'string' && meta[k].startsWith(`${server.origin}/`), `${k} ${json(meta[k])}`);
        }
        assert(json(meta.code_challenge_methods_supported) === '["S256"]', `code_challenge_methods_supported ${json(meta.code_challenge_methods_supported)}`);
        assert(meta.client_id_metadata_document_supported === true, 'client_id_metadata_document_supported is not true');
        assert(meta.scopes_supported?.includes('calendar:read') && meta.scopes_supported?.includes('mail:send'), `scopes_supported ${json(meta.scopes_supported)}`);
        const resource = await jsonOf(await fetch(`${server.origin}/.well-known/oauth-protected-resource/mcp`), 'RFC 9728 metadata');
        assert(json(resource.authorization_servers) === json([server.origin]), `authorization_servers ${json(resource.authorization_servers)}`);
    }, { needs: [up] });

    // -- 2. The SDK, from 401 to a tool call, with the browser in between --------------------
    const provider = new BrowserOAuthProvider(person, receiver.uri, 'Builtin E2E (SDK)');
    const seen = [];
    let first;
    const redirected = await check('SDK connect: 401, registration, the browser signs in and consents, a code comes back', async () => {
        first = new StreamableHTTPClientTransport(new URL(server.mcpUrl), { authProvider: provider, fetch: recordingFetch(seen) });
        let error;
        try {
            await new Client({ name: 'builtin-e2e', version: '0.0.0' }).connect(first, OPTS);
        } catch (err) {
            error = err;
        }
        assert(error instanceof UnauthorizedError, `connect ended with ${error?.constructor?.name}: ${error?.message}`);
        assert(seen.some(r => r.url === meta.registration_endpoint && r.status === 201), `no registration: ${json(seen)}`);
        assert(provider.authorizationUrls.length === 1, `${provider.authorizationUrls.length} authorizations`);
        const url = provider.authorizationUrls[0];
        assert(url.href.startsWith(meta.authorization_endpoint), `the authorization went to ${url}`);
        assert(url.searchParams.get('code_challenge_method') === 'S256', 'no S256 PKCE');
        assert(person.signIns === 1, `${person.signIns} sign-in forms submitted`);
        assert(provider._code, 'no code');
    }, { needs: [discovered], timeout: 30000 });

    let client;
    const connected = await check('finishAuth -> an ES256 JWT for the public URL; tools/list; a tool call', async () => {
        await first.finishAuth(provider.takeCode());
        const { header, payload } = decodeJwt(provider.tokens().access_token);
        assert(header.alg === 'ES256', `alg ${header.alg}`);
        assert(payload.iss === server.origin && payload.aud === server.mcpUrl && payload.sub === 'alice', `claims ${json(payload)}`);
        assert(payload.exp - payload.iat <= TOKEN_TTL_S, `lifetime ${payload.exp - payload.iat} s, --auth-token-ttl ${TOKEN_TTL_S}`);
        assert(provider.tokens().refresh_token, 'no refresh token');
        client = new Client({ name: 'builtin-e2e', version: '0.0.0' });
        await client.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl), { authProvider: provider, fetch: recordingFetch(seen) }), OPTS);
        const names = (await client.listTools(undefined, OPTS)).tools.map(t => t.name);
        for (const want of ['get_current_time', 'calendar_create_event', 'mail_send']) assert(names.includes(want), `${want} not listed: ${json(names)}`);
        const r = await client.callTool({ name: 'get_current_time', arguments: { time_zone: 'Asia/Tokyo' } }, undefined, OPTS);
        assert(r.isError !== true && r.structuredContent?.time_zone === 'Asia/Tokyo', `get_current_time ${json(r)}`);
    }, { needs: [redirected] });

    await check('after the access token expires the SDK refreshes it (rotated) and the next call succeeds', async () => {
        const before = provider.tokens();
        const { payload } = decodeJwt(before.access_token);
        // The token's own expiry, not a synchronisation: the server must refuse it afterwards.
        await new Promise(resolve => setTimeout(resolve, Math.max(0, payload.exp * 1000 - Date.now()) + 1100));
        const expired = await fetch(server.mcpUrl, {
            method: 'POST',
            headers: { authorization: `Bearer ${before.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' },
            body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' })
        });
        await expired.body?.cancel();
        assert(expired.status === 401, `the expired token got HTTP ${expired.status}`);
        const mark = seen.length;
        const r = await client.callTool({ name: 'get_current_time', arguments: {} }, undefined, OPTS);
        assert(r.isError !== true, `call after expiry ${json(r)}`);
        const refreshes = seen.slice(mark).filter(x => x.grant === 'refresh_token');
        assert(refreshes.length === 1 && refreshes[0].status === 200, `token requests after expiry ${json(seen.slice(mark))}`);
        assert(provider.tokens().access_token !== before.access_token, 'the access token did not change');
        assert(provider.tokens().refresh_token !== before.refresh_token, 'the refresh token was not rotated');
        assert(provider.authorizationUrls.length === 1, 'the refresh needed another authorization');
    }, { needs: [connected], timeout: TOKEN_TTL_S * 1000 + STEP_TIMEOUT_MS });

    // -- 4. Consent choices, by hand (the SDK's client registration reused) ----------------
    const exchange = async (clientId, code, verifier) =>
        jsonOf(
            await fetch(meta.token_endpoint, {
                method: 'POST',
                headers: { 'content-type': 'application/x-www-form-urlencoded' },
                body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: receiver.uri, client_id: clientId, code_verifier: verifier, resource: server.mcpUrl })
            }),
            'token'
        );
    await check('the person unticks mail:send on the consent page: the token lacks it', async () => {
        const { verifier, challenge } = pkcePair();
        const back = await person.authorize(
            authorizationUrl(meta, {
                response_type: 'code', client_id: provider.clientInformation().client_id, redirect_uri: receiver.uri, state: 's1',
                code_challenge: challenge, code_challenge_method: 'S256', resource: server.mcpUrl, scope: 'calendar:read mail:send'
            }),
            { untick: ['mail:send'] }
        );
        assert(back.get('state') === 's1' && back.get('iss') === server.origin && back.get('code'), `redirect ${back}`);
        const token = await exchange(provider.clientInformation().client_id, back.get('code'), verifier);
        const scopes = String(token.scope ?? decodeJwt(token.access_token).payload.scope).split(' ');
        assert(scopes.includes('calendar:read') && !scopes.includes('mail:send'), `scopes ${json(scopes)}`);
        assert(person.signIns === 1, 'signed in again although the browser session was open');
    }, { needs: [connected], timeout: 30000 });

    await check('"Deny" comes back as error=access_denied with state and iss', async () => {
        const { challenge } = pkcePair();
        const back = await person.authorize(
            authorizationUrl(meta, {
                response_type: 'code', client_id: provider.clientInformation().client_id, redirect_uri: receiver.uri, state: 's2',
                code_challenge: challenge, code_challenge_method: 'S256', scope: 'calendar:read'
            }),
            { decision: 'deny' }
        );
        assert(back.get('error') === 'access_denied' && back.get('state') === 's2' && back.get('iss') === server.origin && !back.get('code'), `redirect ${back}`);
    }, { needs: [connected], timeout: 30000 });

    // -- 5. A Client ID Metadata Document as client_id -------------------------------------
    const cimd = await startMetadataDocument(receiver.uri);
    await check('CIMD: a metadata URL as client_id is accepted; the consent page shows its name; the token works', async () => {
        const { verifier, challenge } = pkcePair();
        const page = await person.toConsent(
            authorizationUrl(meta, {
                response_type: 'code', client_id: cimd.url, redirect_uri: receiver.uri, state: 's3',
                code_challenge: challenge, code_challenge_method: 'S256', resource: server.mcpUrl, scope: 'calendar:read'
            })
        );
        const text = (await page.textContent('body')) ?? '';
        await page.close();
        assert(text.includes('Metadata Document Client'), `the consent page does not name the client: ${text.replace(/\s+/g, ' ').slice(0, 300)}`);
        const back = await person.authorize(
            authorizationUrl(meta, {
                response_type: 'code', client_id: cimd.url, redirect_uri: receiver.uri, state: 's4',
                code_challenge: challenge, code_challenge_method: 'S256', resource: server.mcpUrl, scope: 'calendar:read'
            })
        );
        assert(back.get('code') && back.get('state') === 's4', `redirect ${back}`);
        const token = await exchange(cimd.url, back.get('code'), verifier);
        const r = await fetch(server.mcpUrl, {
            method: 'POST',
            headers: { authorization: `Bearer ${token.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' },
            body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'cimd', version: '0' } } })
        });
        const body = await r.text();
        assert(r.status === 200 && body.includes('"protocolVersion"'), `initialize with the CIMD client's token: HTTP ${r.status}: ${body.slice(0, 200)}`);
    }, { needs: [connected], timeout: 30000 });

    await check('CIMD: a redirect_uri not in the document is refused with a page, and no redirect', async () => {
        const { challenge } = pkcePair();
        const url = authorizationUrl(meta, {
            response_type: 'code', client_id: cimd.url, redirect_uri: `${receiver.uri}/elsewhere`, state: 's5',
            code_challenge: challenge, code_challenge_method: 'S256'
        });
        const r = await fetch(url, { redirect: 'manual' });
        const body = await r.text();
        assert(r.status === 400 && !r.headers.get('location'), `HTTP ${r.status}, Location ${r.headers.get('location')}`);
        assert(/text\/html/.test(r.headers.get('content-type') ?? '') && /redirect_uri/.test(body), `the page: ${body.slice(0, 200)}`);
    }, { needs: [connected] });
    await cimd.close();

    // -- 6. /connect -------------------------------------------------------------------------
    await check('/connect: 200 for the signed-in browser (CSP frame-ancestors none); a signed-out one goes to /signin', async () => {
        const page = await person.context.newPage();
        const r = await page.goto(`${server.origin}/connect`);
        assert(r.status() === 200, `/connect: HTTP ${r.status()}`);
        const csp = r.headers()['content-security-policy'] ?? '';
        assert(csp.includes("frame-ancestors 'none'"), `CSP ${json(csp)}`);
        // Signed out (a fresh browser), it sends the person to sign in first.
        const stranger = await person.context.browser().newContext();
        const away = await stranger.newPage();
        await away.goto(`${server.origin}/connect`);
        const where = new URL(away.url());
        await stranger.close();
        assert(where.pathname === '/signin', `a signed-out browser ended at ${where}`);
        await page.close();
    }, { needs: [connected] });
} finally {
    await person?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await receiver.close();
    await server.stop();
}
finish();
