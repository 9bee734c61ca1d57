// Every registered HTTP route, called by a stranger: an anonymous caller on another address (a
// network namespace joined by a veth pair, see test/helpers/netns.ts) is refused by every admin
// route in its plain and percent-encoded spellings, and by the data-plane routes; the admin token
// gets through. The table is the server's own list of registered routes, so a route added later
// is covered without editing this file — and one that declares no access fails start-up.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningServer } from '../../src/server.js';
import type { RegisteredRoute } from '../../src/api/route-access.js';
import { createNetns, httpFrom, httpStatusesFrom, type Netns } from '../helpers/netns.js';
import { startInProcessServer } from '../helpers/in-process.js';

const TOKEN = 'admin-token-0123456789abcdef';

/** Public routes, on purpose; any other route must be admin or data plane. */
const PUBLIC = new Set(['GET /healthz', 'HEAD /healthz', 'GET /api/session', 'HEAD /api/session', 'POST /api/session', 'DELETE /api/session', 'POST /', 'OPTIONS /']);

/** A concrete path for a route pattern (params and wildcards filled in). */
function concretePath(url: string): string {
  return url.replace(/:[A-Za-z]+/g, 'x1').replace(/\*$/, 'a/b');
}

const hex = (c: string) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0');

/**
 * Spellings of one path that a router decodes to the same route: the first letter of the first
 * segment encoded (lower- and upper-case hex), every letter of the first segment, a letter of the
 * last literal segment, and a query string.
 */
function spellings(path: string): string[] {
  const segments = path.split('/');
  const first = segments[1]!;
  const out = new Set<string>([path, `${path}?x=1`]);
  out.add(['', hex(first[0]!) + first.slice(1), ...segments.slice(2)].join('/'));
  out.add(['', hex(first[0]!).toUpperCase() + first.slice(1), ...segments.slice(2)].join('/'));
  out.add(['', [...first].map((c) => (/[A-Za-z]/.test(c) ? hex(c) : c)).join(''), ...segments.slice(2)].join('/'));
  const lastLiteral = segments.findLastIndex((s, i) => i > 1 && /^[A-Za-z]/.test(s) && s !== 'x1' && s !== 'a' && s !== 'b');
  if (lastLiteral > 1) {
    const s = segments.slice();
    s[lastLiteral] = hex(s[lastLiteral]![0]!) + s[lastLiteral]!.slice(1);
    out.add(s.join('/'));
  }
  return [...out];
}

/** Other spellings an attacker tries; each must be refused or not found, never served. */
const ODD = ['/API/keys', '/api/keys/', '//api/keys', '/api//keys', '/api/keys;x=1', '/api%2Fkeys', '/%2Fapi/keys', '/api/./keys', '/api/x/../keys', '/%6detrics', '/metrics?x', '/METRICS', '/metrics/', '/%61pi/%6beys?'];

describe('admin routes refuse strangers on the matched route', { timeout: 180_000 }, () => {
  let ns: Netns;
  let server: RunningServer;
  let routes: RegisteredRoute[];

  before(async () => {
    ns = await createNetns();
    server = await startInProcessServer({ admin: { username: 'admin', password: 'correct horse battery', token: TOKEN }, httpHost: '0.0.0.0' });
    routes = [...server.httpRoutes];
  });

  after(async () => {
    await server?.stop();
    await ns?.cleanup();
  });

  it('every route declares one access; the public ones are exactly the expected set', () => {
    assert.ok(routes.length > 30, `only ${routes.length} routes registered`);
    for (const r of routes) assert.ok(r.access !== undefined, `${r.method} ${r.url} declares no access`);
    // The console's static files are public too; they are told apart by not sharing a prefix
    // with the API, /metrics, health or the data plane.
    // POST / is the Cognito Identity API (GetId, GetCredentialsForIdentity), public as on AWS; OPTIONS / its CORS preflight.
    const serviceRoute = (r: RegisteredRoute) => /^\/(api|metrics|healthz|topics|connections|retainedMessage)(\/|$)/.test(r.url) || ((r.method === 'POST' || r.method === 'OPTIONS') && r.url === '/');
    const publicRoutes = routes.filter((r) => r.access === 'public' && serviceRoute(r)).map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(new Set(publicRoutes), PUBLIC);
    // Everything a stranger must not reach is admin.
    for (const url of ['/metrics', '/api/openapi.json', '/api/keys', '/api/authorizers', '/api/rules', '/api/connections', '/api/overview', '/api/policy/check', '/api/default-authorizer']) {
      assert.ok(
        routes.some((r) => r.url === url && r.access === 'admin'),
        `${url} is not an admin route`,
      );
    }
  });

  it('an anonymous non-loopback caller gets 401 from every admin route, however spelled; the admin token gets through', async () => {
    const admin = routes.filter((r) => r.access === 'admin');
    const anonymous: { route: string; path: string; method: string }[] = [];
    for (const r of admin) for (const path of spellings(concretePath(r.url))) anonymous.push({ route: `${r.method} ${r.url}`, path, method: r.method });
    const common = { host: ns.hostAddress, port: server.httpPort! };
    const json = { 'content-type': 'application/json' };
    const statuses = await httpStatusesFrom(
      ns,
      anonymous.map((a) => ({ ...common, method: a.method, path: a.path, ...(a.method === 'GET' || a.method === 'HEAD' || a.method === 'DELETE' ? {} : { headers: json, body: '{}' }) })),
    );
    const wrong = anonymous.map((a, i) => ({ ...a, status: statuses[i] })).filter((a) => a.status !== 401);
    assert.deepEqual(wrong, [], 'admin routes answered an anonymous stranger with something other than 401');

    // A signed-in console session's cookie without the CSRF header is nobody for state changes.
    const withToken = await httpFrom(
      ns,
      admin.map((r) => ({
        ...common,
        method: r.method,
        path: concretePath(r.url),
        headers: { authorization: `Bearer ${TOKEN}`, ...(r.method === 'GET' || r.method === 'HEAD' || r.method === 'DELETE' ? {} : json) },
        ...(r.method === 'GET' || r.method === 'HEAD' || r.method === 'DELETE' ? {} : { body: '{}' }),
      })),
    );
    // The guard's 401 carries WWW-Authenticate; a handler's own 401 (AWS's answer for a missing
    // topic rule) is not a refusal of the token.
    const refused = admin
      .map((r, i) => ({ route: `${r.method} ${r.url}`, status: withToken[i]!.status, guard: withToken[i]!.headers['www-authenticate'] !== undefined }))
      .filter((a) => (a.status === 401 && a.guard) || a.status === 403 || a.status === 0)
      .map(({ route, status }) => ({ route, status }));
    assert.deepEqual(refused, [], 'the admin token was refused');
  });

  it('a wrong token is refused like no token', async () => {
    const [status] = await httpStatusesFrom(ns, [{ host: ns.hostAddress, port: server.httpPort!, method: 'GET', path: '/%61pi/keys', headers: { authorization: 'Bearer not-the-admin-token-at-all' } }]);
    assert.equal(status, 401);
  });

  it('odd spellings (case, slashes, ;, %2F, dot segments) are refused or not found, never served', async () => {
    const requests = [];
    for (const path of ODD) for (const method of ['GET', 'HEAD', 'POST']) requests.push({ host: ns.hostAddress, port: server.httpPort!, method, path });
    const statuses = await httpStatusesFrom(ns, requests);
    const served = requests.map((r, i) => ({ method: r.method, path: r.path, status: statuses[i]! })).filter((r) => r.status < 400 || r.status >= 500 || r.status === 0);
    assert.deepEqual(served, []);
  });

  it('data-plane routes refuse an anonymous stranger (the data plane authenticates itself)', async () => {
    const dataPlane = routes.filter((r) => r.access === 'data-plane');
    assert.ok(dataPlane.length >= 7);
    // 400: a request the handler refuses before authenticating (a direct message needs a topic).
    const requests = dataPlane.flatMap((r) => spellings(concretePath(r.url)).map((path) => ({ host: ns.hostAddress, port: server.httpPort!, method: r.method, path, ...(r.method === 'POST' ? { body: 'x' } : {}) })));
    const statuses = await httpStatusesFrom(ns, requests);
    const served = requests.map((r, i) => ({ method: r.method, path: r.path, status: statuses[i]! })).filter((r) => r.status !== 400 && r.status !== 401 && r.status !== 403);
    assert.deepEqual(served, []);
  });

  it('a console session signed in from another address reaches admin routes; its state changes need the CSRF header', async () => {
    const common = { host: ns.hostAddress, port: server.httpPort! };
    const json = { 'content-type': 'application/json' };
    const [signIn] = await httpFrom(ns, [{ ...common, method: 'POST', path: '/api/session', headers: json, body: JSON.stringify({ username: 'admin', password: 'correct horse battery' }) }]);
    assert.equal(signIn!.status, 204);
    const setCookie = signIn!.headers['set-cookie'];
    const cookie = (Array.isArray(setCookie) ? setCookie[0]! : String(setCookie)).split(';')[0]!;
    const statuses = await httpStatusesFrom(ns, [
      { ...common, method: 'GET', path: '/%61pi/keys', headers: { cookie } },
      { ...common, method: 'GET', path: '/%6detrics', headers: { cookie } },
      { ...common, method: 'POST', path: '/%61pi/keys', headers: { cookie, ...json }, body: '{}' },
      { ...common, method: 'POST', path: '/%61pi/policy/check', headers: { cookie, 'x-switchboard-csrf': '1', ...json }, body: '{}' },
      { ...common, method: 'POST', path: '/api/session', headers: json, body: JSON.stringify({ username: 'admin', password: 'wrong password!' }) },
    ]);
    assert.deepEqual(statuses, [200, 200, 401, 400, 401]);
  });

  it('the same caller on loopback is admitted (loopback admin access unchanged here)', async () => {
    const response = await fetch(`http://127.0.0.1:${server.httpPort}/%61pi/keys`);
    assert.notEqual(response.status, 401);
  });
});
