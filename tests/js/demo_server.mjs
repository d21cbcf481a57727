// The official TypeScript SDK client connected over stdio to `concierge serve --demo` on a fresh
// temporary data directory, plus the small helpers the scenario tests share.
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { makeDataDir } from './datadir.mjs';

// Runs the checks of one scenario file: `ok N - name` / `not ok N - name: why` per check, exit
// status 0 only when all pass.
export function checker() {
    let n = 0, failed = 0;
    const check = async (name, fn) => {
        n += 1;
        try {
            await fn();
            console.log(`ok ${n} - ${name}`);
        } catch (err) {
            failed += 1;
            console.log(`not ok ${n} - ${name}: ${String(err?.stack ?? err).replace(/\s+/g, ' ').slice(0, 800)}`);
        }
    };
    const done = () => {
        console.log(`${n - failed}/${n} passed`);
        process.exitCode = failed || n === 0 ? 1 : 0;
    };
    return { check, done };
}

// Starts the server. extraArgs go before `serve` (e.g. ['--tools', 'mail']).
export async function connectDemo(binary, { extraArgs = [], demo = true, env = {} } = {}) {
    const dataDir = makeDataDir();
    const transport = new StdioClientTransport({
        command: binary,
        args: ['--data-dir', dataDir, ...extraArgs, 'serve', ...(demo ? ['--demo'] : [])],
        env: { ...Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined)), ...env },
        stderr: 'inherit'
    });
    const client = new Client({ name: 'concierge-scenarios', version: '1.0.0' });
    await client.connect(transport);
    const exited = serverExit(transport);

    // A successful call's structuredContent (the tool must not report isError).
    const call = async (name, args = {}) => {
        const r = await client.callTool({ name, arguments: args });
        if (r.isError) throw new Error(`${name} failed: ${r.content?.map(c => c.text).join(' ')}`);
        assert.ok(r.structuredContent !== undefined, `${name} returned no structuredContent`);
        return r.structuredContent;
    };
    // A call that must fail as a tool error; returns its text (to check it names the field).
    const callError = async (name, args = {}) => {
        const r = await client.callTool({ name, arguments: args });
        assert.equal(r.isError, true, `${name} should have failed: ${JSON.stringify(r.structuredContent ?? r.content)}`);
        return r.content.map(c => c.text).join(' ');
    };
    return { client, call, callError, dataDir, close: () => closeChecked(client, exited) };
}

// The server process's exit, as {code, signal}. The SDK keeps the child in a private field and
// offers no accessor; its exit status is the only place a sanitizer report at exit shows.
export function serverExit(transport) {
    const child = transport._process;
    if (!child) return Promise.resolve({ code: null, signal: 'not started' });
    if (child.exitCode !== null || child.signalCode !== null)
        return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
    return new Promise(resolve => child.once('exit', (code, signal) => resolve({ code, signal })));
}

// Closes the client (stdin EOF, then SIGTERM after 2 s) and fails unless the server exited 0.
export async function closeChecked(client, exited) {
    await client.close();
    const { code, signal } = await exited;
    if (code !== 0 || signal !== null) {
        console.log(`not ok - the server exited with code ${code}, signal ${signal}`);
        process.exitCode = 1;
        throw new Error(`server exited with code ${code}, signal ${signal}`);
    }
}

// The binary path from argv, or exit 2.
export function binaryArg(script) {
    const [binary] = process.argv.slice(2);
    if (!binary) {
        process.stderr.write(`usage: node ${script} /path/to/concierge\n`);
        process.exit(2);
    }
    return binary;
}
