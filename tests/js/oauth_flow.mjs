// The user's side of an OAuth authorization against oidc_server.mjs, over plain HTTP:
//   - Browser: a cookie jar and `authorize(url, login)`, which follows the authorization URL's
//     redirects like a browser would, submits devInteractions' login form (any login name: it
//     becomes `sub`) and its consent form, and reads the `code` from the final redirect to the
//     client's redirect_uri (never fetched: nothing needs to listen there);
//   - MemoryOAuthProvider: the official SDK's OAuthClientProvider kept in memory, whose
//     redirectToAuthorization runs the Browser, so the code is ready when the SDK throws
//     UnauthorizedError and the test calls transport.finishAuth(provider.takeCode());
//   - obtainToken: the whole client side by hand (discovery, dynamic registration, PKCE S256, a
//     resource indicator, the code exchange) for tests that need a token the SDK wouldn't ask
//     for (another audience, an expired one).
import { createHash, randomBytes } from 'node:crypto';

const MAX_STEPS = 20;

export class Browser {
    constructor() {
        this.jar = new Map(); // cookie name -> value; one issuer per test, so paths are ignored
        this.logins = 0; // login forms submitted (a second authorization should need none)
    }

    cookieHeader() {
        return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    }

    remember(response) {
        for (const line of response.headers.getSetCookie?.() ?? []) {
            const [pair, ...attributes] = line.split(';');
            const eq = pair.indexOf('=');
            const name = pair.slice(0, eq).trim();
            const value = pair.slice(eq + 1).trim();
            const expires = attributes.map(a => a.trim()).find(a => /^expires=/i.test(a));
            const gone = !value || (expires && Date.parse(expires.slice(8)) <= Date.now());
            if (gone) this.jar.delete(name);
            else this.jar.set(name, value);
        }
    }

    async request(url, init = {}) {
        const headers = new Headers(init.headers);
        if (this.jar.size) headers.set('cookie', this.cookieHeader());
        const response = await fetch(url, { ...init, headers, redirect: 'manual' });
        this.remember(response);
        return response;
    }

    // Follows `authorizationUrl` to the client's redirect_uri as the user `login`, accepting
    // every consent asked. Returns { code, state } from that redirect; an error redirect
    // (error=...) or a page that is neither form throws, naming what the server said.
    async authorize(authorizationUrl, login) {
        const redirectUri = new URL(authorizationUrl).searchParams.get('redirect_uri');
        if (!redirectUri) throw new Error(`authorizationUrl: no redirect_uri in ${authorizationUrl}`);
        let url = String(authorizationUrl);
        let response = await this.request(url);
        for (let step = 0; step < MAX_STEPS; step += 1) {
            if (response.status >= 300 && response.status < 400) {
                await response.body?.cancel();
                const location = new URL(response.headers.get('location'), url);
                if (location.href.startsWith(redirectUri)) {
                    const params = location.searchParams;
                    if (params.has('error')) {
                        throw new Error(`authorization refused: ${params.get('error')} ${params.get('error_description') ?? ''}`.trim());
                    }
                    return { code: params.get('code'), state: params.get('state') };
                }
                url = location.href;
                response = await this.request(url);
                continue;
            }
            const page = await response.text();
            if (response.status !== 200) throw new Error(`authorization page ${url}: HTTP ${response.status}: ${page.slice(0, 300)}`);
            const form = /<form[^>]*action="([^"]+)"[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/i.exec(page);
            const prompt = form && /name="prompt" value="([^"]+)"/.exec(form[2])?.[1];
            let body;
            if (prompt === 'login') {
                body = new URLSearchParams({ prompt, login, password: 'any' });
                this.logins += 1;
            }
            else if (prompt === 'consent') body = new URLSearchParams({ prompt });
            else throw new Error(`authorization page ${url} has no login or consent form: ${page.replace(/\s+/g, ' ').slice(0, 300)}`);
            url = new URL(form[1].replace(/&amp;/g, '&'), url).href;
            response = await this.request(url, {
                method: 'POST',
                headers: { 'content-type': 'application/x-www-form-urlencoded' },
                body
            });
        }
        throw new Error(`authorization did not reach ${redirectUri} in ${MAX_STEPS} steps`);
    }
}

export const REDIRECT_URL = 'http://127.0.0.1/oauth/callback';

// The SDK's OAuthClientProvider, in memory, signing in as `login` through its own Browser
// (a second authorization in the same Browser reuses the login session: consent only).
export class MemoryOAuthProvider {
    constructor(login, { browser = new Browser(), clientName = `concierge-e2e-${login}` } = {}) {
        this.login = login;
        this.browser = browser;
        this.clientName = clientName;
        this.authorizationUrls = []; // every URL the SDK sent the user to, for assertions
        this._client = undefined;
        this._tokens = undefined;
        this._verifier = undefined;
        this._state = undefined;
        this._code = undefined;
        this._discovery = undefined;
    }

    get redirectUrl() {
        return REDIRECT_URL;
    }

    get clientMetadata() {
        return {
            client_name: this.clientName,
            redirect_uris: [REDIRECT_URL],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            token_endpoint_auth_method: 'none'
        };
    }

    state() {
        this._state = randomBytes(16).toString('base64url');
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
        if (!this._verifier) throw new Error('no code verifier saved');
        return this._verifier;
    }

    async redirectToAuthorization(url) {
        this.authorizationUrls.push(new URL(url));
        const { code, state } = await this.browser.authorize(url, this.login);
        if (state !== this._state) throw new Error(`the authorization came back with state ${state}, not the one sent`);
        this._code = code;
    }

    // The code of the last authorization, once.
    takeCode() {
        const code = this._code;
        this._code = undefined;
        if (!code) throw new Error('no authorization code: redirectToAuthorization was not called');
        return code;
    }
}

export function pkcePair() {
    const verifier = randomBytes(32).toString('base64url');
    return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

async function jsonOf(response, what) {
    const text = await response.text();
    if (!response.ok) throw new Error(`${what}: HTTP ${response.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text);
}

export async function issuerMetadata(issuer) {
    return jsonOf(await fetch(`${issuer}/.well-known/openid-configuration`), 'discovery');
}

// Dynamic registration of a public client, by hand. Without `scope` the issuer restricts the
// client to no subset of its scopes (the SDK registers with the scope it is about to ask for,
// which an issuer then holds the client to: a later step-up to a wider scope is refused).
export async function registerClient(issuer, name = 'concierge-e2e-raw') {
    const meta = await issuerMetadata(issuer);
    return jsonOf(
        await fetch(meta.registration_endpoint, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
                client_name: name,
                redirect_uris: [REDIRECT_URL],
                grant_types: ['authorization_code', 'refresh_token'],
                response_types: ['code'],
                token_endpoint_auth_method: 'none'
            })
        }),
        'registration'
    );
}

// DCR + PKCE + resource indicator + code exchange, by hand. Returns the token response.
export async function obtainToken({ issuer, resource, scope, login, browser = new Browser() }) {
    const meta = await issuerMetadata(issuer);
    const client = await registerClient(issuer, `concierge-e2e-raw-${login}`);
    const { verifier, challenge } = pkcePair();
    const state = randomBytes(8).toString('hex');
    const url = new URL(meta.authorization_endpoint);
    url.search = new URLSearchParams({
        response_type: 'code',
        client_id: client.client_id,
        redirect_uri: REDIRECT_URL,
        scope,
        resource,
        state,
        code_challenge: challenge,
        code_challenge_method: 'S256'
    }).toString();
    const { code, state: returned } = await browser.authorize(url, login);
    if (returned !== state) throw new Error('obtainToken: state mismatch');
    return jsonOf(
        await fetch(meta.token_endpoint, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({
                grant_type: 'authorization_code',
                code,
                redirect_uri: REDIRECT_URL,
                client_id: client.client_id,
                code_verifier: verifier,
                resource
            })
        }),
        'token'
    );
}

// A JWT's header and payload, unverified (assertions on what the issuer put in).
export function decodeJwt(token) {
    const [header, payload] = String(token).split('.');
    const part = s => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    return { header: part(header), payload: part(payload) };
}

// The same token with one byte of its signature changed: a bad signature, all else intact.
export function corruptSignature(token) {
    const [h, p, s] = String(token).split('.');
    const sig = Buffer.from(s, 'base64url');
    sig[Math.floor(sig.length / 2)] ^= 0x01;
    return `${h}.${p}.${sig.toString('base64url')}`;
}
