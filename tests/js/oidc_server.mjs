#!/usr/bin/env node
// A real external authorization server for the end-to-end tests of Concierge's resource server
// (issue 16): the npm `oidc-provider` (pinned in package.json) on 127.0.0.1, port 0, with
//   - open dynamic client registration (RFC 7591), what MCP clients use to appear;
//   - PKCE (S256) required of every client;
//   - resource indicators (RFC 8707) issuing JWT access tokens whose `aud` is the requested
//     resource, which must be a loopback http URL ending in /mcp, and whose `scope` is the
//     requested subset of Concierge's scopes;
//   - devInteractions: a login form taking any login name (it becomes `sub`) and a consent form,
//     driven over plain HTTP by oauth_flow.mjs.
// Signing keys (an ES256 and an RS256 one) are generated at start, so nothing secret is committed.
//
// Two ways to use it:
//   import { startIssuer } from './oidc_server.mjs'   (in process: tests use issuer.close() and
//                                                       the options below)
//   node oidc_server.mjs [--alg RS256] [--access-token-ttl SECONDS]
//       prints one JSON line {"issuer":"http://127.0.0.1:PORT"} on stdout, exits when stdin
//       closes or on SIGTERM/SIGINT.
//
// Options (both ways):
//   alg             'ES256' (default) or 'RS256': how access tokens are signed.
//   accessTokenTTL  seconds an access token lives (default 600).
// A login name starting with "expired-" gets an access token whose exp (and iat) lie an hour in
// the past, signed like any other: an expired token from the real issuer without waiting for
// one to expire (a verifier's clock leeway would make a short TTL need a long sleep).
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import Provider, { errors } from 'oidc-provider';

// The scopes of issue 16, exactly.
export const CONCIERGE_SCOPES = [
    'calendar:read', 'calendar:write', 'mail:read', 'mail:write', 'mail:send', 'music:read', 'music:write',
    'video:read', 'video:write', 'booking:read', 'booking:write', 'preferences:read', 'preferences:write',
    'history:read'
];

export const EXPIRED_LOGIN_PREFIX = 'expired-';

function signingKey(type, alg) {
    const options = type === 'ec' ? { namedCurve: 'P-256' } : { modulusLength: 2048 };
    const { privateKey } = generateKeyPairSync(type, options);
    return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `${alg.toLowerCase()}-${randomBytes(6).toString('hex')}` };
}

// Only our own audience shape: a loopback http(s) URL whose path ends in /mcp.
function isConciergeResource(indicator) {
    let url;
    try {
        url = new URL(indicator);
    } catch {
        return false;
    }
    const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
    return (url.protocol === 'http:' || url.protocol === 'https:') && loopback && url.pathname.endsWith('/mcp') && !url.search && !url.hash;
}

export async function startIssuer({ alg = 'ES256', accessTokenTTL = 600 } = {}) {
    if (alg !== 'ES256' && alg !== 'RS256') throw new Error(`alg: ${alg} is neither ES256 nor RS256`);
    const http = createServer();
    await new Promise((resolve, reject) => {
        http.once('error', reject);
        http.listen(0, '127.0.0.1', resolve);
    });
    const issuer = `http://127.0.0.1:${http.address().port}`;

    const provider = new Provider(issuer, {
        jwks: { keys: [signingKey('ec', 'ES256'), signingKey('rsa', 'RS256')] },
        cookies: { keys: [randomBytes(32).toString('hex')] },
        scopes: ['openid', 'offline_access', ...CONCIERGE_SCOPES],
        // Any login is an account; its name is the subject.
        findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
        clientDefaults: { grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' },
        pkce: { required: () => true },
        features: {
            devInteractions: { enabled: true },
            registration: { enabled: true },
            introspection: { enabled: true },
            revocation: { enabled: true },
            resourceIndicators: {
                enabled: true,
                defaultResource: () => undefined,
                useGrantedResource: () => true,
                getResourceServerInfo: (_ctx, indicator) => {
                    if (!isConciergeResource(indicator)) throw new errors.InvalidTarget(`${indicator} is not a loopback /mcp resource`);
                    return {
                        scope: CONCIERGE_SCOPES.join(' '),
                        audience: indicator,
                        accessTokenTTL,
                        accessTokenFormat: 'jwt',
                        jwt: { sign: { alg } }
                    };
                }
            }
        },
        formats: {
            customizers: {
                jwt: (_ctx, token, jwt) => {
                    if (String(token.accountId ?? '').startsWith(EXPIRED_LOGIN_PREFIX)) {
                        jwt.payload.iat -= 7200;
                        jwt.payload.exp = jwt.payload.iat + 3600;
                    }
                }
            }
        },
        // Errors as JSON ({error, error_description}): what the driver reports when a step fails.
        renderError: (ctx, out) => {
            ctx.type = 'json';
            ctx.body = out;
        },
        ttl: { AccessToken: accessTokenTTL, AuthorizationCode: 60, Grant: 3600, Interaction: 600, Session: 3600, IdToken: 600, RefreshToken: 3600 }
    });
    // The tests speak plain HTTP on loopback; nothing here is behind a proxy.
    http.on('request', provider.callback());

    return {
        issuer,
        provider,
        close: () =>
            new Promise(resolve => {
                http.closeAllConnections?.();
                http.close(() => resolve());
            })
    };
}

// Standalone: one JSON line, then live until stdin closes or a signal.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
    // oidc-provider prints its development notices with console.info: keep stdout to the one line.
    console.info = (...args) => console.error(...args);
    const args = process.argv.slice(2);
    const option = name => {
        const i = args.indexOf(name);
        return i >= 0 ? args[i + 1] : undefined;
    };
    const ttl = option('--access-token-ttl');
    const server = await startIssuer({ alg: option('--alg') ?? 'ES256', accessTokenTTL: ttl ? Number(ttl) : undefined });
    process.stdout.write(`${JSON.stringify({ issuer: server.issuer })}\n`);
    const stop = async () => {
        await server.close();
        process.exit(0);
    };
    process.stdin.on('end', stop);
    process.stdin.on('close', stop);
    process.stdin.resume();
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
}
