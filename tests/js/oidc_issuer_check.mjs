#!/usr/bin/env node
// The authorization server of the auth end-to-end tests, checked on its own (no Concierge): what
// oauth_e2e.mjs and isolation_e2e.mjs rely on it for. The official SDK's auth() runs against a
// stub that serves only RFC 9728 metadata for http://127.0.0.1:PORT/mcp, so discovery, dynamic
// registration, PKCE and the resource indicator are the SDK's own; the token is then verified
// here against the issuer's JWKS with node:crypto.
//
// Usage: node oidc_issuer_check.mjs
import { createServer } from 'node:http';
import { createPublicKey, verify } from 'node:crypto';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { startIssuer, CONCIERGE_SCOPES, EXPIRED_LOGIN_PREFIX } from './oidc_server.mjs';
import { Browser, MemoryOAuthProvider, obtainToken, registerClient, decodeJwt, corruptSignature, pkcePair, issuerMetadata, REDIRECT_URL } from './oauth_flow.mjs';
import { check, assert, json, finish } from './checks.mjs';

const stops = [];
async function stopAll() {
    for (const stop of stops.reverse()) await stop().catch(() => {});
}

// Whether `token`'s signature verifies with the issuer's published key named by its kid.
async function signatureVerifies(issuer, token) {
    const meta = await issuerMetadata(issuer);
    const { keys } = await (await fetch(meta.jwks_uri)).json();
    const { header } = decodeJwt(token);
    const jwk = keys.find(k => k.kid === header.kid);
    assert(jwk, `no key ${header.kid} in the JWKS (${json(keys.map(k => k.kid))})`);
    assert(!('d' in jwk), 'the JWKS publishes a private key');
    const [h, p, s] = token.split('.');
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    const options = header.alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key;
    return verify('sha256', Buffer.from(`${h}.${p}`), options, Buffer.from(s, 'base64url'));
}

try {
    const issuer = await startIssuer();
    stops.push(issuer.close);

    // A resource server that is only its metadata: what the SDK discovers before authorizing.
    const stub = createServer();
    await new Promise(resolve => stub.listen(0, '127.0.0.1', resolve));
    stops.push(() => new Promise(resolve => stub.close(resolve)));
    const resource = `http://127.0.0.1:${stub.address().port}/mcp`;
    stub.on('request', (req, res) => {
        if (req.url === '/.well-known/oauth-protected-resource/mcp') {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ resource, authorization_servers: [issuer.issuer], scopes_supported: CONCIERGE_SCOPES, bearer_methods_supported: ['header'] }));
        } else {
            res.writeHead(404).end();
        }
    });

    const alice = new MemoryOAuthProvider('alice');
    let token;
    const sdkFlow = await check('SDK auth(): metadata, registration, PKCE authorization, code exchange', async () => {
        const first = await auth(alice, { serverUrl: resource, scope: 'calendar:read mail:read' });
        assert(first === 'REDIRECT', `auth() without a code answered ${first}`);
        const url = alice.authorizationUrls.at(-1);
        assert(url.searchParams.get('code_challenge_method') === 'S256', `code_challenge_method ${url.searchParams.get('code_challenge_method')}`);
        assert(url.searchParams.get('resource') === resource, `resource ${url.searchParams.get('resource')}`);
        assert(alice.clientInformation()?.client_id, 'no client registered');
        const second = await auth(alice, { serverUrl: resource, authorizationCode: alice.takeCode() });
        assert(second === 'AUTHORIZED', `auth() with the code answered ${second}`);
        token = alice.tokens()?.access_token;
        assert(typeof token === 'string' && token.split('.').length === 3, `access token is not a JWT: ${json(alice.tokens())}`);
    });

    await check('the access token: ES256, at+jwt, iss, aud = the resource, sub = the login, requested scopes, live exp', async () => {
        const { header, payload } = decodeJwt(token);
        assert(header.alg === 'ES256' && header.typ === 'at+jwt' && header.kid, `header ${json(header)}`);
        assert(payload.iss === issuer.issuer, `iss ${payload.iss}`);
        assert(payload.aud === resource, `aud ${json(payload.aud)}`);
        assert(payload.sub === 'alice', `sub ${payload.sub}`);
        assert(payload.scope === 'calendar:read mail:read', `scope ${json(payload.scope)}`);
        const now = Date.now() / 1000;
        assert(payload.exp > now && payload.iat <= now + 1, `iat ${payload.iat} exp ${payload.exp} now ${now}`);
    }, { needs: [sdkFlow] });

    await check('the signature verifies against the JWKS; one flipped byte does not', async () => {
        assert(await signatureVerifies(issuer.issuer, token), 'signature does not verify');
        assert(!(await signatureVerifies(issuer.issuer, corruptSignature(token))), 'a corrupted signature verifies');
    }, { needs: [sdkFlow] });

    await check('a client registered by the SDK is held to the scope it registered with', async () => {
        let refused;
        try {
            await auth(alice, { serverUrl: resource, scope: 'calendar:write' });
        } catch (err) {
            refused = err.message;
        }
        assert(refused && /invalid_scope/.test(refused), `a wider scope was not refused: ${refused}`);
    }, { needs: [sdkFlow] });

    await check('step-up for a client registered without a scope: consent only, the new token carries calendar:write', async () => {
        const carol = new MemoryOAuthProvider('carol');
        carol.saveClientInformation(await registerClient(issuer.issuer, 'carol'));
        assert((await auth(carol, { serverUrl: resource, scope: 'calendar:read' })) === 'REDIRECT', 'no redirect');
        await auth(carol, { serverUrl: resource, authorizationCode: carol.takeCode() });
        assert(decodeJwt(carol.tokens().access_token).payload.scope === 'calendar:read', 'first token is not calendar:read');
        assert((await auth(carol, { serverUrl: resource, scope: 'calendar:write' })) === 'REDIRECT', 'no redirect for step-up');
        await auth(carol, { serverUrl: resource, authorizationCode: carol.takeCode() });
        const { payload } = decodeJwt(carol.tokens().access_token);
        assert(payload.scope.split(' ').includes('calendar:write') && payload.sub === 'carol', `payload ${json(payload)}`);
        assert(carol.browser.logins === 1, `the step-up asked for the login again (${carol.browser.logins} logins)`);
    });

    await check('obtainToken by hand; an "expired-" login gets a token expired an hour ago', async () => {
        const fresh = await obtainToken({ issuer: issuer.issuer, resource, scope: 'calendar:read', login: 'bob' });
        assert(decodeJwt(fresh.access_token).payload.sub === 'bob', 'sub is not bob');
        const old = await obtainToken({ issuer: issuer.issuer, resource, scope: 'calendar:read', login: `${EXPIRED_LOGIN_PREFIX}carol` });
        const { payload } = decodeJwt(old.access_token);
        const now = Date.now() / 1000;
        assert(payload.exp < now - 3000 && payload.exp > payload.iat, `iat ${payload.iat} exp ${payload.exp} now ${now}`);
        assert(await signatureVerifies(issuer.issuer, old.access_token), 'the expired token is not properly signed');
    });

    await check('another loopback /mcp resource gets its own audience; a non-/mcp resource is refused', async () => {
        const other = 'http://127.0.0.1:1/mcp';
        const t = await obtainToken({ issuer: issuer.issuer, resource: other, scope: 'calendar:read', login: 'alice' });
        assert(decodeJwt(t.access_token).payload.aud === other, `aud ${decodeJwt(t.access_token).payload.aud}`);
        let refused;
        try {
            await obtainToken({ issuer: issuer.issuer, resource: 'http://127.0.0.1:1/api', scope: 'calendar:read', login: 'alice' });
        } catch (err) {
            refused = err.message;
        }
        assert(refused && /invalid_target/.test(refused), `not refused with invalid_target: ${refused}`);
    });

    await check('PKCE is required: an authorization request without code_challenge is refused', async () => {
        const meta = await issuerMetadata(issuer.issuer);
        const reg = await (await fetch(meta.registration_endpoint, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ redirect_uris: [REDIRECT_URL], token_endpoint_auth_method: 'none' })
        })).json();
        const url = new URL(meta.authorization_endpoint);
        url.search = new URLSearchParams({ response_type: 'code', client_id: reg.client_id, redirect_uri: REDIRECT_URL, scope: 'calendar:read', resource, state: 'x' });
        let refused;
        try {
            await new Browser().authorize(url, 'alice');
        } catch (err) {
            refused = err.message;
        }
        assert(refused && /invalid_request/.test(refused) && /PKCE/.test(refused), `not refused for PKCE: ${refused}`);
        assert(pkcePair().challenge.length === 43, 'S256 challenge is not 43 characters');
    });

    await check('RS256 on request', async () => {
        const rs = await startIssuer({ alg: 'RS256' });
        stops.push(rs.close);
        const t = await obtainToken({ issuer: rs.issuer, resource, scope: 'mail:read', login: 'alice' });
        assert(decodeJwt(t.access_token).header.alg === 'RS256', `alg ${decodeJwt(t.access_token).header.alg}`);
        assert(await signatureVerifies(rs.issuer, t.access_token), 'RS256 signature does not verify');
    });
} finally {
    await stopAll();
    finish();
}
