// The binary under test for the auth end-to-end scripts: `serve --http` on 127.0.0.1 port 0
// (the port read from the stderr line "listening on http://127.0.0.1:PORT/mcp") and one-shot
// commands (`users add`, `keys create`), all on one temporary data directory. Whatever is
// started is killed when the script exits, failed or not.
import { spawn, execFile } from 'node:child_process';
import { makeDataDir } from './datadir.mjs';

const LISTENING = /listening on http:\/\/127\.0\.0\.1:(\d+)\/mcp/;
const STARTUP_TIMEOUT_MS = 10000;

const children = new Set();
process.on('exit', () => {
    for (const child of children) {
        try {
            child.kill('SIGKILL');
        } catch {
            // already gone
        }
    }
});

function cleanEnv(extra = {}) {
    return { ...Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined)), ...extra };
}

export class Concierge {
    constructor(binary) {
        this.binary = binary;
        this.dataDir = makeDataDir();
    }

    // A one-shot command on the same data directory; its stdout, trimmed. Fails with the
    // command's stderr when it exits non-zero.
    run(...args) {
        return new Promise((resolve, reject) => {
            execFile(this.binary, ['--data-dir', this.dataDir, ...args], { env: cleanEnv(), timeout: 15000 }, (err, stdout, stderr) => {
                if (err) reject(new Error(`concierge ${args.join(' ')}: ${err.message}; stderr: ${stderr.slice(-500)}`));
                else resolve(stdout.trim());
            });
        });
    }

    // The same, with `input` on its stdin (`users passwd NAME --password-stdin`).
    runWithInput(input, ...args) {
        return new Promise((resolve, reject) => {
            const child = execFile(this.binary, ['--data-dir', this.dataDir, ...args], { env: cleanEnv(), timeout: 15000 }, (err, stdout, stderr) => {
                if (err) reject(new Error(`concierge ${args.join(' ')}: ${err.message}; stderr: ${stderr.slice(-500)}`));
                else resolve(stdout.trim());
            });
            child.stdin.end(input);
        });
    }

    // `auth login ...args` as a user at a browser: the authorization URL it prints (on the
    // origin `authorizeOrigin`) is opened, the authorization server's redirect followed back to
    // the command's loopback listener; resolves with its output once it exits 0.
    async signIn(args, env, authorizeOrigin) {
        const child = spawn(this.binary, ['--data-dir', this.dataDir, 'auth', 'login', ...args], { env: cleanEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
        children.add(child);
        let out = '';
        let err = '';
        child.stderr.setEncoding('utf8').on('data', c => (err += c));
        const exited = new Promise(resolve => child.once('exit', code => resolve(code)));
        const url = await new Promise((resolve, reject) => {
            child.stdout.setEncoding('utf8').on('data', c => {
                out += c;
                // The whole URL: up to the whitespace after it (a chunk may end inside it).
                const m = /\S+(?=\s)/.exec(out.slice(out.indexOf(`${authorizeOrigin}/`)));
                if (out.includes(`${authorizeOrigin}/`) && m) resolve(m[0]);
            });
            exited.then(code => reject(new Error(`auth login ${args.join(' ')} exited ${code} before printing a URL; stdout: ${out} stderr: ${err.slice(-500)}`)));
        });
        const approved = await fetch(url, { redirect: 'manual' });
        await approved.body?.cancel();
        const back = approved.headers.get('location');
        if (!back) throw new Error(`the authorization server did not redirect: HTTP ${approved.status}`);
        const landed = await fetch(back);
        await landed.body?.cancel();
        const code = await exited;
        children.delete(child);
        if (code !== 0) throw new Error(`auth login ${args.join(' ')} exited ${code}; stdout: ${out} stderr: ${err.slice(-500)}`);
        return out;
    }

    // `serve --http 127.0.0.1:0 ...serveArgs`; resolves once the port is known.
    async serve(serveArgs, env = {}) {
        const child = spawn(this.binary, ['--data-dir', this.dataDir, 'serve', '--http', '127.0.0.1:0', ...serveArgs], {
            env: cleanEnv(env),
            stdio: ['ignore', 'ignore', 'pipe']
        });
        children.add(child);
        this.child = child;
        this.stderr = '';
        this.exited = new Promise(resolve => child.once('exit', (code, signal) => resolve({ code, signal })));
        child.once('exit', () => children.delete(child));
        const port = await new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`no listening line within ${STARTUP_TIMEOUT_MS} ms; stderr: ${this.stderr.slice(-500)}`)), STARTUP_TIMEOUT_MS);
            child.once('error', err => {
                clearTimeout(timer);
                reject(err);
            });
            child.stderr.setEncoding('utf8');
            child.stderr.on('data', chunk => {
                this.stderr += chunk;
                process.stderr.write(chunk); // the server log stays visible in ctest output
                const m = LISTENING.exec(this.stderr);
                if (m) {
                    clearTimeout(timer);
                    resolve(Number(m[1]));
                }
            });
            this.exited.then(exit => {
                clearTimeout(timer);
                reject(new Error(`the server exited (${JSON.stringify(exit)}) before listening; stderr: ${this.stderr.slice(-500)}`));
            });
        });
        this.port = port;
        this.origin = `http://127.0.0.1:${port}`;
        this.mcpUrl = `${this.origin}/mcp`;
        return this;
    }

    async stop() {
        if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
        this.child.kill('SIGTERM');
        const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
        await this.exited;
        clearTimeout(timer);
    }
}

// How the lead wires issue 16's flags: an external issuer (plain http accepted on loopback).
export function issuerArgs(issuer) {
    return ['--auth', 'issuer', '--auth-issuer', issuer];
}

export function binaryArg(script) {
    const binary = process.argv[2];
    if (!binary) {
        process.stderr.write(`usage: node ${script} /path/to/concierge\n`);
        process.exit(2);
    }
    return binary;
}
