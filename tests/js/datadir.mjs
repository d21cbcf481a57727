// A temporary data directory for the server under test, removed when the test process exits.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function makeDataDir() {
    const dir = mkdtempSync(join(tmpdir(), 'concierge-js-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    return dir;
}
