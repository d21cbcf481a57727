#!/usr/bin/env node
// End-to-end test: drive the Concierge MCP server over stdio with the official
// TypeScript SDK client (@modelcontextprotocol/sdk, pinned in package.json).
//
// Usage: node stdio_client.mjs /path/to/concierge [extra server args...]
//
// The server is spawned as `<binary> serve [extra args...]`, once per protocol
// version in PROTOCOL_VERSIONS. Each connection forces the client's requested
// protocolVersion, then exercises initialize, tools/list, tools/call, ping and
// shutdown. Output is one `ok N - ...` / `not ok N - ...: reason` line per
// check, followed by a final `N passed, M failed` line. Exit status is 0 only if
// every check passed.
//
// Environment:
//   CONCIERGE_E2E_TIMEOUT_MS  per-connection deadline in ms (default 15000)

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import { makeDataDir } from './datadir.mjs';

const dataDir = makeDataDir();

// Every protocol version the SDK client can speak (2024-10-07 is also in the
// SDK's accepted list but is a pre-release revision, so it is not exercised).
const PROTOCOL_VERSIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25'];

// Tool.title and Tool.outputSchema (and CallToolResult.structuredContent) were
// introduced in protocol revision 2025-06-18. Dates compare lexically.
const STRUCTURED_OUTPUT_SINCE = '2025-06-18';

const CONNECTION_TIMEOUT_MS = Number(process.env.CONCIERGE_E2E_TIMEOUT_MS) || 15000;

const RFC3339_TOKYO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+09:00$/;

const [binary, ...extraArgs] = process.argv.slice(2);
if (!binary) {
    process.stderr.write('usage: node stdio_client.mjs /path/to/concierge [extra server args...]\n');
    process.exit(2);
}

// ---------------------------------------------------------------------------
// Reporting

// A closed stdout (e.g. piping into `head`) must not crash the run.
process.stdout.on('error', err => {
    if (err.code !== 'EPIPE') throw err;
});

let checkNumber = 0;
let passed = 0;
let failed = 0;

function oneLine(s) {
    return String(s).replace(/\s+/g, ' ').trim();
}

function report(ok, name, reason) {
    checkNumber += 1;
    if (ok) {
        passed += 1;
        console.log(`ok ${checkNumber} - ${name}`);
    } else {
        failed += 1;
        console.log(`not ok ${checkNumber} - ${name}: ${oneLine(reason ?? 'failed')}`);
    }
}

class CheckFailure extends Error {}

function assert(cond, message) {
    if (!cond) throw new CheckFailure(message);
}

function describeError(err) {
    if (err instanceof CheckFailure) return err.message;
    if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'number') {
        return `threw ${err.constructor?.name ?? 'error'} (code ${err.code}): ${err.message}`;
    }
    return `threw: ${err instanceof Error ? err.message : String(err)}`;
}

function json(v) {
    try {
        const s = JSON.stringify(v);
        return s && s.length > 300 ? `${s.slice(0, 300)}...` : s;
    } catch {
        return String(v);
    }
}

function sleep(ms) {
    return new Promise(resolve => setTimeout(resolve, ms).unref());
}

// ---------------------------------------------------------------------------
// Helpers on tool results

function textBlocks(result) {
    return Array.isArray(result?.content) ? result.content.filter(b => b && b.type === 'text') : [];
}

function allText(result) {
    return textBlocks(result)
        .map(b => b.text)
        .join('\n');
}

// ---------------------------------------------------------------------------
// One connection per protocol version

async function runConnection(version) {
    const label = version;
    const modern = version >= STRUCTURED_OUTPUT_SINCE;

    // Every check of this connection, in order. A step that cannot run because
    // an earlier prerequisite failed (or the deadline passed) is reported as
    // `not ok` so the number of checks is the same on every run.
    const steps = [];
    const step = (name, fn, { needsInit = true } = {}) => steps.push({ name: `${label} ${name}`, fn, needsInit });

    // Raw traffic capture (before the SDK's zod parsing), keyed by JSON-RPC id.
    const sentMethodById = new Map();
    const rawResponseById = new Map();
    let sentInitializeVersion;
    let rawInitializeResult;

    const transport = new StdioClientTransport({
        command: binary,
        args: ['--data-dir', dataDir, 'serve', ...extraArgs],
        // Inherit the full environment (sanitizers, coverage, TZ settings, ...).
        env: Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined)),
        stderr: 'inherit'
    });

    // SDK 1.32.2's Client.connect() always sends
    //   initialize { protocolVersion: LATEST_PROTOCOL_VERSION (2025-11-25) }
    // and has no option to request another revision. So rewrite the outgoing
    // initialize request here. The client then accepts any answer listed in
    // SUPPORTED_PROTOCOL_VERSIONS, which includes all versions tested here.
    const originalSend = transport.send.bind(transport);
    transport.send = (message, options) => {
        if (message && 'id' in message && typeof message.method === 'string') {
            sentMethodById.set(message.id, message.method);
            if (message.method === 'initialize') {
                message = { ...message, params: { ...message.params, protocolVersion: version } };
                sentInitializeVersion = message.params.protocolVersion;
            }
        }
        return originalSend(message, options);
    };

    // Protocol.connect() chains to a pre-existing transport.onmessage, calling it
    // with the raw parsed JSON before any schema validation.
    transport.onmessage = message => {
        if (message && 'id' in message && ('result' in message || 'error' in message)) {
            rawResponseById.set(message.id, structuredClone(message));
            if (sentMethodById.get(message.id) === 'initialize' && 'result' in message) {
                rawInitializeResult = structuredClone(message.result);
            }
        }
    };

    // Capture the child process once spawned, to check how it terminates.
    let child;
    let childExit; // { code, signal } once exited
    let childExited;
    let spawnError;
    const signalsSent = [];
    const originalStart = transport.start.bind(transport);
    transport.start = async () => {
        const p = originalStart();
        // `_process` is assigned synchronously by start(); it is private in the
        // typings but reachable from JS.
        child = transport._process;
        if (child) {
            child.once('error', err => {
                spawnError ??= err;
            });
            childExited = new Promise(resolve => {
                child.once('exit', (code, signal) => {
                    childExit = { code, signal };
                    resolve();
                });
            });
            const originalKill = child.kill.bind(child);
            child.kill = signal => {
                signalsSent.push(signal ?? 'SIGTERM');
                return originalKill(signal);
            };
        }
        return p;
    };

    const client = new Client({ name: 'concierge-js-e2e', version: '0.0.0' });

    const deadline = Date.now() + CONNECTION_TIMEOUT_MS;
    const remaining = () => Math.max(1, deadline - Date.now());
    const reqOpts = () => ({ timeout: remaining() });

    let initialized = false;
    let lastListTools;

    // -- initialize -------------------------------------------------------

    step(
        'initialize',
        async () => {
            await client.connect(transport, reqOpts());
            initialized = true;
        },
        { needsInit: false }
    );

    step('initialize protocolVersion', async () => {
        assert(sentInitializeVersion === version, `client sent protocolVersion ${json(sentInitializeVersion)}, expected ${version}`);
        const got = rawInitializeResult?.protocolVersion;
        assert(got === version, `server negotiated ${json(got)}, expected ${version}`);
    });

    step('initialize serverInfo.name', async () => {
        const name = client.getServerVersion()?.name;
        assert(name === 'concierge', `serverInfo.name is ${json(name)}, expected "concierge"`);
    });

    // -- tools/list --------------------------------------------------------

    step('listTools', async () => {
        const result = await client.listTools(undefined, reqOpts());
        lastListTools = result;
        const names = (result.tools ?? []).map(t => t.name);
        for (const want of ['echo', 'get_current_time']) {
            assert(names.includes(want), `tool ${want} missing; got ${json(names)}`);
        }
    });

    if (!modern) {
        step('listTools raw tools have no title/outputSchema', async () => {
            assert(lastListTools, 'listTools did not succeed');
            const listId = [...sentMethodById].filter(([, m]) => m === 'tools/list').map(([id]) => id).pop();
            const raw = rawResponseById.get(listId);
            const tools = raw?.result?.tools;
            assert(Array.isArray(tools), `raw tools/list response has no tools array: ${json(raw)}`);
            const offending = [];
            for (const tool of tools) {
                for (const key of ['title', 'outputSchema']) {
                    if (tool && Object.prototype.hasOwnProperty.call(tool, key)) offending.push(`${tool.name}.${key}`);
                }
            }
            assert(offending.length === 0, `fields from 2025-06-18 present for ${version}: ${offending.join(', ')}`);
        });
    }

    // -- tools/call --------------------------------------------------------

    step('callTool echo', async () => {
        const result = await client.callTool({ name: 'echo', arguments: { text: 'hello concierge' } }, undefined, reqOpts());
        assert(result.isError !== true, `isError is true: ${json(result.content)}`);
        const first = result.content?.[0];
        assert(
            first && first.type === 'text' && first.text === 'hello concierge',
            `content[0] is ${json(first)}, expected {"type":"text","text":"hello concierge"}`
        );
    });

    step('callTool get_current_time', async () => {
        const result = await client.callTool(
            { name: 'get_current_time', arguments: { time_zone: 'Asia/Tokyo' } },
            undefined,
            reqOpts()
        );
        assert(result.isError !== true, `isError is true: ${json(result.content)}`);
        const texts = textBlocks(result);
        assert(texts.length > 0 && typeof texts[0].text === 'string' && texts[0].text.length > 0, `no text content block: ${json(result.content)}`);
        if (modern) {
            const sc = result.structuredContent;
            assert(sc && typeof sc === 'object', `structuredContent missing: ${json(result)}`);
            assert(sc.time_zone === 'Asia/Tokyo', `structuredContent.time_zone is ${json(sc.time_zone)}, expected "Asia/Tokyo"`);
            assert(
                typeof sc.datetime === 'string' && RFC3339_TOKYO.test(sc.datetime),
                `structuredContent.datetime ${json(sc.datetime)} is not RFC 3339 with +09:00 offset`
            );
        }
    });

    step('callTool echo invalid arguments -> isError', async () => {
        let result;
        try {
            result = await client.callTool({ name: 'echo', arguments: { text: 5 } }, undefined, reqOpts());
        } catch (err) {
            throw new CheckFailure(`expected a tool result with isError, got a protocol error instead (${describeError(err)})`);
        }
        assert(result.isError === true, `isError is ${json(result.isError)}, expected true; content: ${json(result.content)}`);
        const text = allText(result);
        assert(/^text: must be a string/.test(text), `error text does not start with the field "text": ${json(text)}`);
    });

    // -- ping ----------------------------------------------------------------

    step('ping', async () => {
        const result = await client.ping(reqOpts());
        assert(result && typeof result === 'object', `unexpected ping result ${json(result)}`);
    });

    // -- shutdown --------------------------------------------------------------

    step('close -> server exits', async () => {
        assert(child && !spawnError, `server process could not be spawned: ${spawnError?.message ?? 'no process'}`);
        await client.close(); // ends the child's stdin; SIGTERM after 2 s, SIGKILL after 4 s
        if (!childExit) await Promise.race([childExited, sleep(Math.min(remaining(), 2000))]);
        assert(childExit, `server process ${child.pid} still running after close`);
        assert(
            signalsSent.length === 0,
            `server did not exit on stdin EOF within 2 s; SDK had to send ${signalsSent.join(', ')} (exit ${json(childExit)})`
        );
        assert(childExit.signal === null && childExit.code === 0, `server exited abnormally: code ${childExit.code}, signal ${childExit.signal}`);
    }, { needsInit: false });

    // -- run ------------------------------------------------------------------

    let timedOut = false;
    let timer;
    const timeout = new Promise(resolve => {
        timer = setTimeout(() => {
            timedOut = true;
            resolve('timeout');
        }, CONNECTION_TIMEOUT_MS);
    });

    for (const { name, fn, needsInit } of steps) {
        if (timedOut) {
            report(false, name, `skipped: connection timed out after ${CONNECTION_TIMEOUT_MS} ms`);
            continue;
        }
        if (needsInit && !initialized) {
            report(false, name, 'skipped: initialize failed');
            continue;
        }
        try {
            const outcome = await Promise.race([fn().then(() => 'done'), timeout]);
            if (outcome === 'timeout') {
                report(false, name, `timed out (connection deadline ${CONNECTION_TIMEOUT_MS} ms)`);
            } else {
                report(true, name);
            }
        } catch (err) {
            report(false, name, describeError(err));
        }
    }
    clearTimeout(timer);

    // Never leave a server behind, whatever happened above.
    if (child && !childExit && !spawnError) {
        try {
            child.kill('SIGKILL');
        } catch {
            // ignore
        }
        await Promise.race([childExited, sleep(2000)]);
    }
    try {
        await client.close();
    } catch {
        // ignore
    }
}

// ---------------------------------------------------------------------------

for (const v of PROTOCOL_VERSIONS) {
    if (!SUPPORTED_PROTOCOL_VERSIONS.includes(v)) {
        // Would mean the pinned SDK changed underneath us.
        report(false, `${v} SDK support`, `SDK SUPPORTED_PROTOCOL_VERSIONS ${json(SUPPORTED_PROTOCOL_VERSIONS)} lacks ${v}`);
        continue;
    }
    await runConnection(v);
}

console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
// Do not wait on stray handles (e.g. a wedged child's pipes).
setTimeout(() => process.exit(process.exitCode), 100).unref();
