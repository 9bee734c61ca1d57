// /api/openapi.json describes every route the server registers, and nothing it does not: the
// table is the server's own list of registered routes (startServer's httpRoutes), so a route added
// later without documentation fails here.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningServer } from '../../src/server.js';
import { OPENAPI } from '../../src/api/openapi.js';
import { startInProcessServer } from '../helpers/in-process.js';

const TOKEN = 'admin-token-0123456789abcdef';

/** Fastify's `:param` is OpenAPI's `{param}`; a trailing wildcard carries a topic name (`/topics/*`). */
function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z]+)/g, '{$1}').replace(/\/\*$/, '/{topic}');
}

/**
 * The console's static files are public routes outside the API, /metrics, health and the data
 * plane (as in admin-routes.test.ts); they are files, not API. POST / is the Cognito Identity API (OPTIONS / its CORS preflight).
 */
const serviceRoute = (url: string) => /^\/(api|metrics|healthz|topics|connections|retainedMessage)(\/|$)/.test(url);

type Operation = { summary?: string; responses?: Record<string, unknown>; parameters?: { name: string; in: string }[] };

describe('/api/openapi.json', () => {
  let server: RunningServer;

  before(async () => {
    server = await startInProcessServer({ admin: { username: 'admin', password: 'correct horse battery', token: TOKEN } });
  });

  after(async () => {
    await server?.stop();
  });

  it('lists exactly the registered routes (paths and methods)', async () => {
    const registered = new Set(
      server.httpRoutes
        .filter((r) => r.method !== 'HEAD' && (r.access !== 'public' || serviceRoute(r.url) || ((r.method === 'POST' || r.method === 'OPTIONS') && r.url === '/')))
        .map((r) => `${r.method} ${openApiPath(r.url)}`),
    );
    assert.ok(registered.size > 30, `only ${registered.size} routes registered`);
    // The document as served, not only the module.
    const res = await fetch(`http://127.0.0.1:${server.httpPort}/api/openapi.json`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    const doc = (await res.json()) as { paths: Record<string, Record<string, Operation>> };
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)));
    const undocumented = [...registered].filter((r) => !documented.has(r));
    const stale = [...documented].filter((d) => !registered.has(d));
    assert.deepEqual({ undocumented, stale }, { undocumented: [], stale: [] });
  });

  it('every operation has a summary, responses, and declares its path parameters', () => {
    for (const [path, ops] of Object.entries(OPENAPI.paths as unknown as Record<string, Record<string, Operation>>)) {
      const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(ops)) {
        const where = `${method.toUpperCase()} ${path}`;
        assert.ok(op.summary, `${where} has no summary`);
        assert.ok(op.responses && Object.keys(op.responses).length > 0, `${where} has no responses`);
        for (const name of names) assert.ok(op.parameters?.some((p) => p.in === 'path' && p.name === name), `${where} does not declare path parameter ${name}`);
      }
    }
  });
});
