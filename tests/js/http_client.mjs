#!/usr/bin/env node
// End-to-end test: drive `concierge serve --http` with the official TypeScript SDK
// client (@modelcontextprotocol/sdk, pinned in package.json) over both HTTP
// transports it has:
//
//   (a) StreamableHTTPClientTransport to /mcp (2025-11-25, sessions): connect,
//       listTools, callTool echo and get_current_time, ping, DELETE the session;
//   (b) SSEClientTransport to /sse (the deprecated 2024-11-05 HTTP+SSE transport):
//       connect at 2024-11-05, listTools, callTool echo;
//   (c) one stateless 2026-07-28 tools/call POSTed with fetch;
//   then SIGTERM with clients of both transports still connected (streams open):
//   the server must exit 0 within 2 s.
//
// Usage: node http_client.mjs /path/to/concierge [extra server args...]
//
// The server is spawned as `<binary> serve --http 127.0.0.1:0 [extra args...]`;
// its port is read from the stderr line `listening on http://127.0.0.1:PORT/mcp`.
// Output is one `ok N - ...` / `not ok N - ...: reason` line per check, then a
// final `N passed, M failed` line. Exit status is 0 only if every check passed.
//
// Environment:
//   CONCIERGE_E2E_TIMEOUT_MS  per-step deadline in ms (default 15000)

import { spawn } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { makeDataDir } from './datadir.mjs';
import { STEP_TIMEOUT_MS, assert, check, finish, json, withTimeout } from './checks.mjs';

const dataDir = makeDataDir();

const STARTUP_TIMEOUT_MS = 10000;
const SHUTDOWN_LIMIT_MS = 2000;
const SHUTDOWN_REPORT_MS = 40000; // how long a too-slow shutdown is still timed, for the report

const RFC3339_TOKYO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+09:00$/;
const VISIBLE_ASCII = /^[\x21-\x7E]+$/;
const LISTENING = /listening on http:\/\/127\.0\.0\.1:(\d+)\/mcp/;

const [binary, ...extraArgs] = process.argv.slice(2);
if (!binary) {
    process.stderr.write('usage: node http_client.mjs /path/to/concierge [extra server args...]\n');
    process.exit(2);
}

// ---------------------------------------------------------------------------
// Reporting: checks.mjs (same format as stdio_client.mjs)

function sleep(ms) {
    return new Promise(resolve => setTimeout(resolve, ms).unref());
}

function textBlocks(result) {
    return Array.isArray(result?.content) ? result.content.filter(b => b && b.type === 'text') : [];
}

// ---------------------------------------------------------------------------
// The server process

const server = spawn(binary, ['--data-dir', dataDir, 'serve', '--http', '127.0.0.1:0', ...extraArgs], {
    env: Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined)),
    stdio: ['ignore', 'ignore', 'pipe']
});
let stderrText = '';
let serverExit; // { code, signal }
let spawnError;
const serverExited = new Promise(resolve => {
    server.once('exit', (code, signal) => {
        serverExit = { code, signal };
        resolve();
    });
});
server.once('error', err => {
    spawnError ??= err;
});
let port;
const portFound = new Promise(resolve => {
    server.stderr.setEncoding('utf8');
    server.stderr.on('data', chunk => {
        stderrText += chunk;
        process.stderr.write(chunk); // keep the server log visible in ctest output
        const m = LISTENING.exec(stderrText);
        if (m && port === undefined) {
            port = Number(m[1]);
            resolve();
        }
    });
    server.once('exit', () => resolve());
});

function killServer() {
    if (!serverExit && !spawnError) {
        try {
            server.kill('SIGKILL');
        } catch {
            // ignore
        }
    }
}

process.on('exit', killServer);

const started = await check('server logs "listening on http://127.0.0.1:PORT/mcp"', async () => {
    await withTimeout(portFound, STARTUP_TIMEOUT_MS, 'waiting for the listening line');
    assert(!spawnError, `could not spawn ${binary}: ${spawnError?.message}`);
    assert(port !== undefined, `no listening line on stderr (exit ${json(serverExit)}); stderr: ${stderrText.slice(-500)}`);
    assert(port > 0 && port < 65536, `bad port ${port}`);
});
const up = () => started;
const mcpUrl = () => new URL(`http://127.0.0.1:${port}/mcp`);
const sseUrl = () => new URL(`http://127.0.0.1:${port}/sse`);

// Wraps a transport to capture raw responses (before the SDK's zod parsing) and,
// optionally, to rewrite the initialize request's protocolVersion.
function instrument(transport, forceVersion) {
    const raw = { initializeResult: undefined, byId: new Map(), methodById: new Map() };
    const originalSend = transport.send.bind(transport);
    transport.send = (message, options) => {
        if (message && 'id' in message && typeof message.method === 'string') {
            raw.methodById.set(message.id, message.method);
            if (message.method === 'initialize' && forceVersion) {
                message = { ...message, params: { ...message.params, protocolVersion: forceVersion } };
            }
        }
        return originalSend(message, options);
    };
    transport.onmessage = message => {
        if (message && 'id' in message && ('result' in message || 'error' in message)) {
            raw.byId.set(message.id, structuredClone(message));
            if (raw.methodById.get(message.id) === 'initialize' && 'result' in message) {
                raw.initializeResult = structuredClone(message.result);
            }
        }
    };
    return raw;
}

// ---------------------------------------------------------------------------
// (a) Streamable HTTP, 2025-11-25

{
    let transport;
    let raw;
    const client = new Client({ name: 'concierge-js-http-e2e', version: '0.0.0' });
    let connected = false;
    const ready = () => connected;

    await check('streamable-http connect', async () => {
        transport = new StreamableHTTPClientTransport(mcpUrl());
        raw = instrument(transport);
        await client.connect(transport, { timeout: STEP_TIMEOUT_MS });
        connected = true;
    }, { needs: up });

    await check('streamable-http session id is visible ASCII', async () => {
        const sid = transport.sessionId;
        assert(typeof sid === 'string' && VISIBLE_ASCII.test(sid), `Mcp-Session-Id is ${json(sid)}`);
    }, { needs: ready });

    await check('streamable-http negotiated 2025-11-25, serverInfo concierge', async () => {
        const v = raw.initializeResult?.protocolVersion;
        assert(v === '2025-11-25', `server negotiated ${json(v)}`);
        const name = client.getServerVersion()?.name;
        assert(name === 'concierge', `serverInfo.name is ${json(name)}`);
    }, { needs: ready });

    await check('streamable-http listTools', async () => {
        const result = await client.listTools(undefined, { timeout: STEP_TIMEOUT_MS });
        const names = (result.tools ?? []).map(t => t.name);
        for (const want of ['echo', 'get_current_time']) {
            assert(names.includes(want), `tool ${want} missing; got ${json(names)}`);
        }
    }, { needs: ready });

    await check('streamable-http callTool echo', async () => {
        const result = await client.callTool({ name: 'echo', arguments: { text: 'hello over http' } }, undefined, {
            timeout: STEP_TIMEOUT_MS
        });
        assert(result.isError !== true, `isError is true: ${json(result.content)}`);
        const first = result.content?.[0];
        assert(first?.type === 'text' && first.text === 'hello over http', `content[0] is ${json(first)}`);
    }, { needs: ready });

    await check('streamable-http callTool get_current_time', async () => {
        const result = await client.callTool(
            { name: 'get_current_time', arguments: { time_zone: 'Asia/Tokyo' } },
            undefined,
            { timeout: STEP_TIMEOUT_MS }
        );
        assert(result.isError !== true, `isError is true: ${json(result.content)}`);
        assert(textBlocks(result).length > 0, `no text content: ${json(result.content)}`);
        const sc = result.structuredContent;
        assert(sc && sc.time_zone === 'Asia/Tokyo', `structuredContent is ${json(sc)}`);
        assert(typeof sc.datetime === 'string' && RFC3339_TOKYO.test(sc.datetime), `datetime ${json(sc.datetime)} is not RFC 3339 +09:00`);
    }, { needs: ready });

    await check('streamable-http ping', async () => {
        const result = await client.ping({ timeout: STEP_TIMEOUT_MS });
        assert(result && typeof result === 'object', `ping result ${json(result)}`);
    }, { needs: ready });

    await check('streamable-http terminateSession (DELETE) then the old session is 404', async () => {
        const sid = transport.sessionId;
        await transport.terminateSession();
        assert(transport.sessionId === undefined, 'the SDK kept the session id (DELETE was not 2xx or 405)');
        const res = await fetch(mcpUrl(), {
            method: 'POST',
            headers: {
                'content-type': 'application/json',
                accept: 'application/json, text/event-stream',
                'mcp-session-id': sid,
                'mcp-protocol-version': '2025-11-25'
            },
            body: JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'tools/list', params: {} })
        });
        await res.body?.cancel();
        assert(res.status === 404, `POST with the deleted session got HTTP ${res.status}, expected 404`);
    }, { needs: ready });

    try {
        await client.close();
    } catch {
        // ignore
    }
}

// ---------------------------------------------------------------------------
// (b) HTTP+SSE, 2024-11-05

{
    let raw;
    const client = new Client({ name: 'concierge-js-sse-e2e', version: '0.0.0' });
    let connected = false;
    const ready = () => connected;

    await check('http+sse connect at 2024-11-05', async () => {
        const transport = new SSEClientTransport(sseUrl());
        raw = instrument(transport, '2024-11-05');
        await client.connect(transport, { timeout: STEP_TIMEOUT_MS });
        connected = true;
        const v = raw.initializeResult?.protocolVersion;
        assert(v === '2024-11-05', `server negotiated ${json(v)}, expected 2024-11-05`);
    }, { needs: up });

    await check('http+sse listTools (2024-11-05 shapes)', async () => {
        const result = await client.listTools(undefined, { timeout: STEP_TIMEOUT_MS });
        const names = (result.tools ?? []).map(t => t.name);
        for (const want of ['echo', 'get_current_time']) {
            assert(names.includes(want), `tool ${want} missing; got ${json(names)}`);
        }
        const listId = [...raw.methodById].filter(([, m]) => m === 'tools/list').map(([id]) => id).pop();
        const tools = raw.byId.get(listId)?.result?.tools ?? [];
        const offending = tools.flatMap(t => ['title', 'outputSchema'].filter(k => Object.hasOwn(t, k)).map(k => `${t.name}.${k}`));
        assert(offending.length === 0, `fields newer than 2024-11-05: ${offending.join(', ')}`);
    }, { needs: ready });

    await check('http+sse callTool echo', async () => {
        const result = await client.callTool({ name: 'echo', arguments: { text: 'hello over sse' } }, undefined, {
            timeout: STEP_TIMEOUT_MS
        });
        assert(result.isError !== true, `isError is true: ${json(result.content)}`);
        const first = result.content?.[0];
        assert(first?.type === 'text' && first.text === 'hello over sse', `content[0] is ${json(first)}`);
    }, { needs: ready });

    // Left connected (its SSE stream open) for the shutdown check.
    globalThis.sseClient = client;
}

// ---------------------------------------------------------------------------
// (c) One stateless 2026-07-28 request

await check('2026-07-28 stateless tools/call echo via fetch', async () => {
    const res = await fetch(mcpUrl(), {
        method: 'POST',
        headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'mcp-protocol-version': '2026-07-28',
            'mcp-method': 'tools/call',
            'mcp-name': 'echo'
        },
        body: JSON.stringify({
            jsonrpc: '2.0',
            id: 1,
            method: 'tools/call',
            params: {
                name: 'echo',
                arguments: { text: 'stateless' },
                _meta: {
                    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
                    'io.modelcontextprotocol/clientInfo': { name: 'concierge-js-http-e2e', version: '0.0.0' },
                    'io.modelcontextprotocol/clientCapabilities': {}
                }
            }
        })
    });
    const text = await res.text();
    assert(res.status === 200, `HTTP ${res.status}: ${text.slice(0, 300)}`);
    const type = res.headers.get('content-type') ?? '';
    let message;
    if (type.startsWith('text/event-stream')) {
        const datas = text.split(/\r?\n/).filter(l => l.startsWith('data:')).map(l => l.slice(5).trim()).filter(Boolean);
        message = datas.map(d => JSON.parse(d)).find(m => m.id === 1);
    } else {
        message = JSON.parse(text);
    }
    assert(message?.result?.resultType === 'complete', `result is ${json(message)}`);
    assert(message.result.content?.[0]?.text === 'stateless', `content is ${json(message.result.content)}`);
}, { needs: up });

// ---------------------------------------------------------------------------
// Shutdown: SIGTERM with a Streamable HTTP client (GET stream open) and an
// HTTP+SSE client connected.

{
    const client = new Client({ name: 'concierge-js-http-e2e-late', version: '0.0.0' });
    let transport;
    await check('streamable-http second session connects before shutdown', async () => {
        transport = new StreamableHTTPClientTransport(mcpUrl(), {
            reconnectionOptions: { initialReconnectionDelay: 100, maxReconnectionDelay: 100, reconnectionDelayGrowFactor: 1, maxRetries: 0 }
        });
        await client.connect(transport, { timeout: STEP_TIMEOUT_MS });
        await client.listTools(undefined, { timeout: STEP_TIMEOUT_MS });
    }, { needs: up });

    await check('SIGTERM -> server exits 0 within 2 s', async () => {
        assert(!spawnError && !serverExit, `server not running before SIGTERM (exit ${json(serverExit)})`);
        const t0 = Date.now();
        server.kill('SIGTERM');
        await Promise.race([serverExited, sleep(SHUTDOWN_LIMIT_MS)]);
        if (!serverExit) {
            // Too slow: find out how slow (bounded), for the failure message.
            await Promise.race([serverExited, sleep(SHUTDOWN_REPORT_MS)]);
            const took = Date.now() - t0;
            assert(false, serverExit
                ? `server exited only ${took} ms after SIGTERM (code ${serverExit.code}, signal ${serverExit.signal})`
                : `server still running ${took} ms after SIGTERM`);
        }
        assert(serverExit.signal === null && serverExit.code === 0, `server exited with code ${serverExit.code}, signal ${serverExit.signal}`);
    }, { needs: up, timeout: SHUTDOWN_REPORT_MS + SHUTDOWN_LIMIT_MS + 5000 });

    for (const c of [client, globalThis.sseClient]) {
        try {
            await c?.close();
        } catch {
            // ignore
        }
    }
}

killServer();
finish();
// Do not wait on stray handles (EventSource reconnect timers, sockets).
setTimeout(() => process.exit(process.exitCode), 100).unref();
