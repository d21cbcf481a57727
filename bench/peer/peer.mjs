// The benchmark's peer: an MCP server on the official TypeScript SDK (pinned in package.json and
// package-lock.json) doing the same work as Concierge's `echo` tool, so both can be timed side by
// side in one run (bench/run.sh).
//
//   node peer.mjs stdio                 MCP over stdio
//   node peer.mjs http PORT [HOST]      Streamable HTTP at http://HOST:PORT/mcp (HOST 127.0.0.1)
//
// HTTP serves both kinds of client Concierge serves on its one endpoint, each the way the SDK's
// own examples do it, with JSON responses (enableJsonResponse):
//   - stateless: a POST without Mcp-Session-Id that is not `initialize` gets a fresh McpServer and
//     a transport with sessionIdGenerator undefined, closed when the response closes
//     (examples/server/simpleStatelessStreamableHttp.js);
//   - sessions: `initialize` creates a session (Mcp-Session-Id, randomUUID) whose transport and
//     server serve its later POSTs, its GET /mcp notification stream and DELETE
//     (examples/server/jsonResponseStreamableHttp.js).
// It uses node:http rather than the examples' Express app: less work per request than Express, so
// the comparison errs in the peer's favour. It prints "listening on http://HOST:PORT/mcp" on
// stderr once bound (PORT 0 picks a free one). GET /healthz answers 200 for readiness checks.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

function makeServer() {
  const server = new McpServer({ name: 'ts-sdk-peer', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Returns its text', inputSchema: { text: z.string().describe('Text to return') } },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  return server;
}

function sendJsonError(res, status, code, message) {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function serveHttp(port, host) {
  const sessions = new Map(); // Mcp-Session-Id -> StreamableHTTPServerTransport

  async function stateless(req, res, body) {
    const server = makeServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => { transport.close(); server.close(); });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  async function openSession(req, res, body) {
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: true,
      onsessioninitialized: (id) => sessions.set(id, transport),
    });
    transport.onclose = () => { if (transport.sessionId) sessions.delete(transport.sessionId); };
    await makeServer().connect(transport);
    await transport.handleRequest(req, res, body);
  }

  const httpServer = http.createServer(async (req, res) => {
    try {
      const path = (req.url || '/').split('?')[0];
      if (path === '/healthz') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return void res.end(JSON.stringify({ status: 'ok', sessions: sessions.size }));
      }
      if (path !== '/mcp') return sendJsonError(res, 404, -32601, 'Not found');
      const sid = req.headers['mcp-session-id'];
      let body;
      if (req.method === 'POST') {
        const text = await readBody(req);
        try { body = text ? JSON.parse(text) : undefined; } catch { return sendJsonError(res, 400, -32700, 'Parse error'); }
      }
      if (sid) {
        const transport = sessions.get(sid);
        if (!transport) return sendJsonError(res, 404, -32001, 'Session not found');
        return await transport.handleRequest(req, res, body);
      }
      if (req.method !== 'POST') return sendJsonError(res, 405, -32000, 'Method not allowed');
      if (isInitializeRequest(body)) return await openSession(req, res, body);
      return await stateless(req, res, body);
    } catch (err) {
      console.error('peer: error handling request:', err);
      sendJsonError(res, 500, -32603, 'Internal error');
    }
  });
  httpServer.keepAliveTimeout = 30_000;
  httpServer.listen(port, host, () => {
    console.error(`peer (@modelcontextprotocol/sdk) listening on http://${host}:${httpServer.address().port}/mcp`);
  });
  const stop = () => { httpServer.close(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

const [mode = 'stdio', port = '3100', host = '127.0.0.1'] = process.argv.slice(2);
if (mode === 'stdio') {
  await makeServer().connect(new StdioServerTransport());
} else if (mode === 'http') {
  serveHttp(Number(port), host);
} else {
  console.error('usage: node peer.mjs stdio | node peer.mjs http PORT [HOST]');
  process.exit(2);
}
