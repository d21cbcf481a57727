// Concierge from the official MCP TypeScript SDK (@modelcontextprotocol/sdk), over stdio or
// Streamable HTTP. Node >= 22.18 runs this file as is (it strips the types), no build step:
//
//   node client.ts stdio BINARY [SERVER ARGS...]   spawns `BINARY serve` (or BINARY SERVER ARGS)
//   node client.ts http URL                        e.g. http://127.0.0.1:8080/mcp
//   CONCIERGE_TOKEN=KEY node client.ts http URL    a server with --auth: the API key as bearer token
//
// Connects (the SDK's initialize handshake), lists the tools, reads concierge://preferences and
// calls calendar_list_events, printing one line each.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';

const USAGE = 'usage: node client.ts stdio BINARY [SERVER ARGS...] | node client.ts http URL';

function transportFor(kind: string | undefined, target: string | undefined, rest: string[]): Transport {
    if (kind === 'stdio' && target) {
        // The SDK passes the server only a few variables (PATH, HOME...) unless told: hand it ours,
        // so CONCIERGE_DATA_DIR and CONCIERGE_CONFIG reach it. stderr 'inherit': its log stays
        // visible; stdout is the protocol.
        const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
        return new StdioClientTransport({ command: target, args: rest.length ? rest : ['serve'], env, stderr: 'inherit' });
    }
    if (kind === 'http' && target && URL.canParse(target)) {
        const token = process.env.CONCIERGE_TOKEN;
        const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
        return new StreamableHTTPClientTransport(new URL(target), { requestInit: { headers } });
    }
    throw new Error(`${kind === 'http' ? `URL: not a URL: '${target ?? ''}'` : 'arguments: expected stdio or http'}\n${USAGE}`);
}

function firstText(content: unknown): string {
    const blocks = Array.isArray(content) ? content : [];
    const text = blocks.find((b): b is { type: 'text'; text: string } => b?.type === 'text');
    return text?.text ?? '(no text)';
}

const [kind, target, ...rest] = process.argv.slice(2);
const client = new Client({ name: 'concierge-example-typescript', version: '1.0.0' });
try {
    await client.connect(transportFor(kind, target, rest));
    const server = client.getServerVersion();
    console.log(`server: ${server?.name} ${server?.version}`);

    const tools = [];
    let cursor: string | undefined;
    do {
        const page = await client.listTools(cursor ? { cursor } : undefined);
        tools.push(...page.tools);
        cursor = page.nextCursor;
    } while (cursor);
    console.log(`tools (${tools.length}): ${tools.map(t => t.name).join(', ')}`);

    const preferences = await client.readResource({ uri: 'concierge://preferences' });
    const prefs = preferences.contents[0];
    const parsed = prefs && 'text' in prefs ? JSON.parse(prefs.text) : {};
    console.log(`preferences: time_zone ${parsed.time_zone}, locale ${parsed.locale}`);

    const events = await client.callTool({ name: 'calendar_list_events', arguments: { max_results: 5 } });
    if (events.isError) throw new Error(`calendar_list_events: ${firstText(events.content)}`);
    console.log(`calendar_list_events: ${firstText(events.content)}`);
} catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
} finally {
    await client.close();
}
