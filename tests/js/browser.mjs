// A real browser for the pages of `serve --auth builtin` (issue 17): Debian's Chromium, headless,
// driven by playwright-core. One BrowserContext is one person at one browser: its cookies (the
// server's sign-in session) carry over from one authorization to the next.
//
// The client's redirect_uri is a loopback listener of the test's own (RedirectReceiver), as a
// native client's would be: the browser really lands there, and the test reads the query.
import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const CHROMIUM = process.env.CONCIERGE_CHROMIUM || '/usr/bin/chromium';
const NAVIGATION_TIMEOUT_MS = 15000;

export async function launchBrowser() {
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'], timeout: NAVIGATION_TIMEOUT_MS });
}

// Where the screenshots go: $CONCIERGE_SCREENSHOTS, else the current directory's screenshots/.
export function screenshotDir() {
    const dir = process.env.CONCIERGE_SCREENSHOTS || join(process.cwd(), 'screenshots');
    mkdirSync(dir, { recursive: true });
    return dir;
}

// A client's loopback redirect target: answers every request with a short page.
export async function startRedirectReceiver() {
    const server = createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<!doctype html><title>Back at the client</title><p>Back at the client.</p>');
    });
    await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
    return {
        uri: `http://127.0.0.1:${server.address().port}/callback`,
        close: () =>
            new Promise(resolve => {
                server.closeAllConnections?.();
                server.close(() => resolve());
            })
    };
}

// One person at one browser.
export class Person {
    constructor(context, { user, password }) {
        this.context = context;
        this.user = user;
        this.password = password;
        this.signIns = 0; // sign-in forms submitted
        this.pages = []; // every page seen on the way, as { url, title, status }
    }

    static async open(browser, credentials) {
        const context = await browser.newContext({ viewport: { width: 900, height: 700 } });
        context.setDefaultTimeout(NAVIGATION_TIMEOUT_MS);
        return new Person(context, credentials);
    }

    // The first page of each kind only: later ones (a second consent) keep the first picture.
    async screenshot(page, name) {
        if (!this.shots || this.taken?.has(name)) return;
        (this.taken ??= new Set()).add(name);
        await page.screenshot({ path: join(this.shots, `${name}.png`), fullPage: true });
    }

    // Signs in if the page is the sign-in form (user and password), then returns.
    async signInIfAsked(page) {
        if ((await page.locator('#password').count()) === 0) return false;
        await this.screenshot(page, 'signin');
        await page.fill('#user', this.user);
        await page.fill('#password', this.password);
        this.signIns += 1;
        // waitForLoadState alone resolves at once on the sign-in page, already loaded: the next
        // page must replace it first (on a loaded machine the check that follows saw neither).
        const form = page.locator('#password');
        await page.click('button[type=submit]');
        await form.waitFor({ state: 'detached' });
        await page.waitForLoadState('load');
        return true;
    }

    // Opens `authorizationUrl` and goes as far as the consent page (signing in if asked). Returns
    // the page, on the consent form, or what it landed on instead.
    async toConsent(authorizationUrl) {
        const page = await this.context.newPage();
        const response = await page.goto(String(authorizationUrl));
        this.pages.push({ url: page.url(), status: response?.status() });
        await this.signInIfAsked(page);
        return page;
    }

    // The whole authorization as the person: sign in if asked, consent (unticking `untick`
    // scopes), then the redirect to the client's redirect_uri: its query as a URLSearchParams.
    // `decision`: 'approve' or 'deny'.
    async authorize(authorizationUrl, { decision = 'approve', untick = [] } = {}) {
        const redirectUri = new URL(authorizationUrl).searchParams.get('redirect_uri');
        const back = url => url.href.startsWith(redirectUri);
        const page = await this.context.newPage();
        try {
            const first = await page.goto(String(authorizationUrl));
            this.pages.push({ url: page.url(), status: first?.status() });
            if (!back(new URL(page.url()))) await this.signInIfAsked(page);
            if (!back(new URL(page.url()))) {
                const approve = page.locator('button[name=decision][value=approve]');
                if ((await approve.count()) === 0) {
                    const text = (await page.textContent('body')) ?? '';
                    throw new Error(`no consent form at ${page.url()}: ${text.replace(/\s+/g, ' ').trim().slice(0, 300)}`);
                }
                await this.screenshot(page, 'consent');
                for (const scope of untick) await page.uncheck(`input[name=scope][value="${scope}"]`);
                await Promise.all([page.waitForURL(back), page.click(`button[name=decision][value=${decision}]`)]);
            }
            return new URL(page.url()).searchParams;
        } finally {
            await page.close();
        }
    }

    async close() {
        await this.context.close();
    }
}

// The whole client side by hand against `serve --auth builtin` at `origin`, for a person in a
// browser: RFC 8414 discovery, dynamic registration, PKCE S256 and a resource indicator, the
// browser's sign-in and consent, the code exchange. Returns the token response.
export async function tokenThroughBrowser({ origin, resource, person, redirectUri, scope, clientName = 'concierge-e2e' }) {
    const ok = async (response, what) => {
        const text = await response.text();
        if (!response.ok) throw new Error(`${what}: HTTP ${response.status}: ${text.slice(0, 300)}`);
        return JSON.parse(text);
    };
    const meta = await ok(await fetch(`${origin}/.well-known/oauth-authorization-server`), 'discovery');
    const client = await ok(
        await fetch(meta.registration_endpoint, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ client_name: clientName, redirect_uris: [redirectUri], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' })
        }),
        'registration'
    );
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const url = new URL(meta.authorization_endpoint);
    const params = { response_type: 'code', client_id: client.client_id, redirect_uri: redirectUri, state: 'st', code_challenge: challenge, code_challenge_method: 'S256', resource };
    if (scope) params.scope = scope;
    url.search = new URLSearchParams(params).toString();
    const back = await person.authorize(url);
    if (!back.get('code')) throw new Error(`authorization: ${back}`);
    return ok(
        await fetch(meta.token_endpoint, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ grant_type: 'authorization_code', code: back.get('code'), redirect_uri: redirectUri, client_id: client.client_id, code_verifier: verifier, resource })
        }),
        'token'
    );
}
