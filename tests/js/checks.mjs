// Reporting for the auth end-to-end scripts, in the format of the other scripts here: one
// `ok N - name` / `not ok N - name: reason` line per check, then `N passed, M failed`.
// A check whose prerequisite failed is reported `not ok ... skipped`, so every run reports the
// same checks; finish() sets the exit status.

process.stdout.on('error', err => {
    if (err.code !== 'EPIPE') throw err;
});

export const STEP_TIMEOUT_MS = Number(process.env.CONCIERGE_E2E_TIMEOUT_MS) || 15000;

let number = 0;
let passed = 0;
let failed = 0;

export class CheckFailure extends Error {}

export function assert(cond, message) {
    if (!cond) throw new CheckFailure(message);
}

export function json(v) {
    try {
        const s = JSON.stringify(v);
        return s && s.length > 400 ? `${s.slice(0, 400)}...` : s;
    } catch {
        return String(v);
    }
}

function describe(err) {
    if (err instanceof CheckFailure) return err.message;
    const code = err && typeof err === 'object' && 'code' in err ? ` (code ${err.code})` : '';
    return `threw ${err?.constructor?.name ?? 'error'}${code}: ${err instanceof Error ? err.message : String(err)}`;
}

export function withTimeout(promise, ms, what) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new CheckFailure(`${what} timed out after ${ms} ms`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function report(ok, name, reason) {
    number += 1;
    if (ok) {
        passed += 1;
        console.log(`ok ${number} - ${name}`);
    } else {
        failed += 1;
        console.log(`not ok ${number} - ${name}: ${String(reason ?? 'failed').replace(/\s+/g, ' ').trim()}`);
    }
}

// Runs fn as one check; true when it passed. `needs`: checks (booleans or functions, or one
// function) that must have passed first.
export async function check(name, fn, { needs = [], timeout = STEP_TIMEOUT_MS } = {}) {
    const prerequisites = typeof needs === 'function' ? [needs] : needs;
    if (prerequisites.some(n => !(typeof n === 'function' ? n() : n))) {
        report(false, name, 'skipped: a prerequisite failed');
        return false;
    }
    try {
        await withTimeout(Promise.resolve().then(fn), timeout, name);
        report(true, name);
        return true;
    } catch (err) {
        report(false, name, describe(err));
        return false;
    }
}

export function finish() {
    console.log(`${passed} passed, ${failed} failed`);
    process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
    // A handle something left open (a client's reconnect timer, a keep-alive socket) must not
    // hold the script until the ctest timeout: everything was stopped, the verdict is in.
    setTimeout(() => process.exit(), 2000).unref();
}
