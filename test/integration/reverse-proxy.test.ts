// Switchboard behind a real reverse proxy (Debian's nginx) and behind a PROXY protocol sender:
// the remote caller's address reaches aws:SourceIp conditions and lifecycle events, and nothing
// that comes through the proxy is admitted as loopback, although the proxy connects from
// 127.0.0.1. The remote caller lives in its own network namespace (test/helpers/netns.ts).
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import mqttPacket from 'mqtt-packet';

import { attemptConnect, doc, refusalProblem } from '../helpers/auth.js';
import { closeAllClients, connectClient, uid, withTimeout, type Connected } from '../helpers/clients.js';
import { createNetns, netnsUnavailable, type Netns } from '../helpers/netns.js';
import { haproxyUnavailable, startHaproxy } from '../helpers/haproxy.js';
import { freePort, nginxUnavailable, startNginx, type RunningNginx } from '../helpers/nginx.js';
import { destroyAllRaw, RawClient } from '../helpers/raw-client.js';
import { REPO_ROOT, startServer, stopAllServers, type TestServer } from '../helpers/server.js';

const ARN = 'arn:aws:iot:us-east-1:123456789012:';
const ALL = ['iot:Connect', 'iot:Publish', 'iot:Subscribe', 'iot:Receive'];

/** Every right, only from `cidr` (aws:SourceIp). */
const ADMIN_TOKEN = 'proxy-test-admin-token-0123';
const onlyFrom = (cidr: string) => doc({ Effect: 'Allow', Action: ALL, Resource: [`${ARN}*`], Condition: { IpAddress: { 'aws:SourceIp': [cidr] } } } as never);

function get(host: string, port: number, path: string, method = 'GET', headers: Record<string, string> = {}, body?: string): Promise<number> {
  return withTimeout(
    new Promise<number>((res, rej) => {
      const req = http.request({ host, port, path, method, headers }, (r) => {
        r.resume();
        r.on('end', () => res(r.statusCode ?? 0));
      });
      req.on('error', rej);
      req.end(body);
    }),
    5_000,
    `${method} ${path}`,
  );
}

const presence = (clientId: string) => `$aws/events/presence/connected/${clientId}`;

async function connectedEventAddress(watcher: Connected, clientId: string): Promise<string> {
  const [event] = await watcher.inbox.waitFor(1, 5_000, (m) => m.topic === presence(clientId));
  return (JSON.parse(event!.text) as { ipAddress: string }).ipAddress;
}

after(async () => {
  destroyAllRaw();
  await closeAllClients();
  await stopAllServers();
});

const skipNginx = nginxUnavailable() ?? netnsUnavailable();

describe('behind nginx, a caller in another network namespace', { skip: skipNginx ?? false }, () => {
  let ns: Netns;
  let nginx: RunningNginx;
  let trusting: TestServer;
  let plain: TestServer;
  let remotePort: number;
  let remoteToPlainPort: number;
  let localToPlainPort: number;

  before(async () => {
    ns = await createNetns();
    [trusting, plain] = await Promise.all([
      startServer({ auth: { unauthenticatedPolicy: onlyFrom(`${ns.peerAddress}/32`) }, args: ['--set', 'listeners.http.trustedProxies=["127.0.0.1/32"]'] }),
      startServer(),
    ]);
    [remotePort, remoteToPlainPort, localToPlainPort] = await Promise.all([freePort(ns.hostAddress), freePort(ns.hostAddress), freePort('127.0.0.1')]);
    nginx = await startNginx([
      { listen: { host: ns.hostAddress, port: remotePort }, upstreamPort: trusting.httpPort },
      { listen: { host: ns.hostAddress, port: remoteToPlainPort }, upstreamPort: plain.httpPort },
      { listen: { host: '127.0.0.1', port: localToPlainPort }, upstreamPort: plain.httpPort },
    ]);
  });

  after(async () => {
    await nginx?.stop();
    await ns?.cleanup();
  });

  test('the remote caller\'s address reaches aws:SourceIp and the connected event; the admin API refuses it', async () => {
    // The watcher's own requests name the caller's address through the trusted proxy (us).
    const watcher = await connectClient(trusting, { transport: 'ws', clientId: uid('w'), wsOptions: { headers: { 'X-Forwarded-For': ns.peerAddress } } });
    await watcher.client.subscribeAsync('$aws/events/presence/connected/#', { qos: 1 });
    const clientId = uid('remote');
    const base = `${ns.hostAddress}:${remotePort}`;
    const script = `
      import mqtt from 'mqtt';
      const out = {};
      const attempt = (url, clientId) => new Promise((res) => {
        const c = mqtt.connect(url, { clientId, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000 });
        c.on('packetreceive', (p) => { if (p.cmd === 'connack') { res(p.reasonCode ?? 0); c.end(true); } });
        c.on('error', () => {});
        c.on('close', () => res(-1));
      });
      out.connack = await attempt('ws://${base}/mqtt', ${JSON.stringify(clientId)});
      out.plainConnack = await attempt('ws://${ns.hostAddress}:${remoteToPlainPort}/mqtt', 'remote-plain');
      out.publish = (await fetch('http://${base}/topics/a%2Fb', { method: 'POST', body: 'x' })).status;
      out.connections = (await fetch('http://${base}/api/connections')).status;
      out.keys = (await fetch('http://${base}/api/keys', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status;
      out.metrics = (await fetch('http://${base}/metrics')).status;
      out.plainConnections = (await fetch('http://${ns.hostAddress}:${remoteToPlainPort}/api/connections')).status;
      console.log(JSON.stringify(out));
      process.exit(0);
    `;
    const out = JSON.parse(await ns.runNode(script, REPO_ROOT)) as Record<string, number>;
    assert.equal(out.connack, 0, `admitted by the policy for ${ns.peerAddress}: ${JSON.stringify(out)}`);
    assert.equal(await connectedEventAddress(watcher, clientId), ns.peerAddress);
    assert.equal(out.publish, 200, JSON.stringify(out));
    assert.equal(out.connections, 401, JSON.stringify(out));
    assert.equal(out.keys, 401, JSON.stringify(out));
    assert.equal(out.metrics, 401, JSON.stringify(out));
    // The default config (anonymous from loopback) admits nothing that nginx relays.
    assert.notEqual(out.plainConnack, 0, JSON.stringify(out));
    assert.equal(out.plainConnections, 401, JSON.stringify(out));
  });

  test('a caller on this machine going through nginx is not local either; directly it is', async () => {
    const viaNginx = await attemptConnect(plain, { transport: 'ws', url: `ws://127.0.0.1:${localToPlainPort}/mqtt`, clientId: uid('via') });
    assert.equal(refusalProblem(viaNginx, 5), null);
    assert.equal(await get('127.0.0.1', localToPlainPort, '/api/connections'), 401);
    assert.equal(await get('127.0.0.1', localToPlainPort, '/topics/a%2Fb', 'POST', {}, 'x'), 401);
    assert.ok((await attemptConnect(plain, { transport: 'ws', clientId: uid('direct') })).accepted);
    assert.equal(await get('127.0.0.1', plain.httpPort, '/api/connections'), 200);
  });
});

// ---- PROXY protocol on the MQTT/TCP listener -----------------------------------------------------

const v1 = (src: string, port = 40000) => Buffer.from(`PROXY TCP4 ${src} 127.0.0.1 ${port} 1883\r\n`);

function v2(src: number[], port = 40000): Buffer {
  const b = Buffer.alloc(28);
  Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]).copy(b, 0);
  b[12] = 0x21; // version 2, PROXY
  b[13] = 0x11; // INET, STREAM
  b.writeUInt16BE(12, 14);
  Buffer.from(src).copy(b, 16);
  Buffer.from([127, 0, 0, 1]).copy(b, 20);
  b.writeUInt16BE(port, 24);
  b.writeUInt16BE(1883, 26);
  return b;
}

const connectBytes = (clientId: string) => mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId, clean: true, keepalive: 30 } as never);

/** Sends `header` and a CONNECT in one write (as a proxy does); the CONNACK code, or -1 when closed without one. */
async function proxiedConnect(server: TestServer, header: Buffer, clientId = uid('pp')): Promise<{ code: number; raw: RawClient }> {
  const raw = await RawClient.tcp(server.mqttPort, { protocolVersion: 5 });
  raw.sendBytes(Buffer.concat([header, connectBytes(clientId)]));
  try {
    const ack = (await raw.expect('connack', 3_000)) as { reasonCode?: number };
    return { code: ack.reasonCode ?? 0, raw };
  } catch {
    await raw.waitClosed(3_000);
    return { code: -1, raw };
  }
}

describe('listeners.mqtt.proxyProtocol', () => {
  let trusting: TestServer;
  let anonymous: TestServer;
  let untrusting: TestServer;

  before(async () => {
    const pp = (cidr: string) => ['--set', `listeners.mqtt.proxyProtocol={"trustedProxies":["${cidr}"]}`];
    [trusting, anonymous, untrusting] = await Promise.all([
      startServer({ auth: { unauthenticatedPolicy: onlyFrom('203.0.113.0/24') }, args: [...pp('127.0.0.1/32'), '--set', `admin.token=${ADMIN_TOKEN}`] }),
      startServer({ args: pp('127.0.0.1/32') }),
      startServer({ args: pp('10.255.255.1/32') }),
    ]);
  });

  test('v1 and v2 headers from a trusted sender: the source is what aws:SourceIp and the connected event see', async () => {
    const watcher = await proxiedConnect(trusting, v2([203, 0, 113, 9]), uid('w'));
    assert.equal(watcher.code, 0);
    watcher.raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$aws/events/presence/connected/#', qos: 0 }] } as never);
    await watcher.raw.expect('suback');
    const clientId = uid('v1');
    assert.equal((await proxiedConnect(trusting, v1('203.0.113.5'), clientId)).code, 0);
    await withTimeout(
      (async () => {
        for (;;) {
          const p = (await watcher.raw.expect('publish', 5_000)) as { topic: string; payload: Buffer };
          if (p.topic === presence(clientId)) return assert.equal((JSON.parse(p.payload.toString()) as { ipAddress: string }).ipAddress, '203.0.113.5');
        }
      })(),
      6_000,
      'connected event',
    );
    // Outside the policy's block: refused by aws:SourceIp (v5 0x87).
    assert.equal((await proxiedConnect(trusting, v2([198, 51, 100, 1]))).code, 0x87);
  });

  test('GetConnection with includeSocketInformation reports the source and the destination the header announced', async () => {
    const clientId = uid('sock');
    const header = Buffer.from('PROXY TCP4 203.0.113.7 198.51.100.20 40001 8883\r\n');
    assert.equal((await proxiedConnect(trusting, header, clientId)).code, 0);
    const r = await fetch(`${trusting.httpUrl}/connections/${clientId}?includeSocketInformation=true`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(r.status, 200, await r.clone().text());
    const body = (await r.json()) as Record<string, unknown>;
    assert.deepEqual([body.sourceIp, body.sourcePort, body.targetIp, body.targetPort], ['203.0.113.7', 40001, '198.51.100.20', 8883]);
  });

  test('a trusted sender must send a well-formed header: none, or a malformed one, closes the connection', async () => {
    assert.equal((await proxiedConnect(trusting, Buffer.alloc(0))).code, -1);
    assert.equal((await proxiedConnect(trusting, Buffer.from('PROXY TCP4 203.0.113.500 127.0.0.1 1 2\r\n'))).code, -1);
    const bad = v2([203, 0, 113, 5]);
    bad[12] = 0x31;
    assert.equal((await proxiedConnect(trusting, bad)).code, -1);
  });

  test('a connection relayed by the PROXY protocol is never local, even from 127.0.0.1', async () => {
    assert.equal((await proxiedConnect(anonymous, v1('127.0.0.1'))).code, 0x87);
    assert.equal((await proxiedConnect(anonymous, v2([127, 0, 0, 1]))).code, 0x87);
    // The HTTP listener is not affected.
    assert.ok((await attemptConnect(anonymous, { transport: 'ws', clientId: uid('ws') })).accepted);
  });

  test('an untrusted peer that sends a header is closed without a CONNACK; without one it connects as itself', async () => {
    assert.equal((await proxiedConnect(untrusting, v1('203.0.113.5'))).code, -1);
    assert.equal((await proxiedConnect(untrusting, v2([203, 0, 113, 5]))).code, -1);
    assert.equal((await proxiedConnect(untrusting, Buffer.alloc(0))).code, 0);
  });
});

describe('behind HAProxy: PROXY protocol v2 to the MQTT port, X-Forwarded-For to the HTTP port', { skip: haproxyUnavailable() ?? netnsUnavailable() ?? false }, () => {
  let ns: Netns;
  let haproxy: Awaited<ReturnType<typeof startHaproxy>>;
  let server: TestServer;
  let mqttPort: number;
  let httpPort: number;

  before(async () => {
    ns = await createNetns();
    server = await startServer({
      auth: { unauthenticatedPolicy: onlyFrom(`${ns.peerAddress}/32`) },
      args: ['--set', 'listeners.http.trustedProxies=["127.0.0.1/32"]', '--set', 'listeners.mqtt.proxyProtocol={"trustedProxies":["127.0.0.1/32"]}'],
    });
    [mqttPort, httpPort] = await Promise.all([freePort(ns.hostAddress), freePort(ns.hostAddress)]);
    haproxy = await startHaproxy({ host: ns.hostAddress, mqttPort, mqttUpstream: server.mqttPort, httpPort, httpUpstream: server.httpPort });
  });

  after(async () => {
    await haproxy?.stop();
    await ns?.cleanup();
  });

  test('the remote caller is admitted by its own address over TCP and WebSocket, and the events carry it', async () => {
    const watcher = await connectClient(server, { transport: 'ws', clientId: uid('w'), wsOptions: { headers: { 'X-Forwarded-For': ns.peerAddress } } });
    await watcher.client.subscribeAsync('$aws/events/presence/connected/#', { qos: 1 });
    const tcpId = uid('hap-tcp');
    const wsId = uid('hap-ws');
    const script = `
      import mqtt from 'mqtt';
      const attempt = (url, clientId) => new Promise((res) => {
        const c = mqtt.connect(url, { clientId, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000 });
        c.on('packetreceive', (p) => { if (p.cmd === 'connack') { res(p.reasonCode ?? 0); c.end(true); } });
        c.on('error', () => {});
        c.on('close', () => res(-1));
      });
      const out = {
        tcp: await attempt('mqtt://${ns.hostAddress}:${mqttPort}', ${JSON.stringify(tcpId)}),
        ws: await attempt('ws://${ns.hostAddress}:${httpPort}/mqtt', ${JSON.stringify(wsId)}),
        connections: (await fetch('http://${ns.hostAddress}:${httpPort}/api/connections')).status,
      };
      console.log(JSON.stringify(out));
      process.exit(0);
    `;
    const out = JSON.parse(await ns.runNode(script, REPO_ROOT)) as Record<string, number>;
    assert.deepEqual(out, { tcp: 0, ws: 0, connections: 401 }, haproxy.output());
    assert.equal(await connectedEventAddress(watcher, tcpId), ns.peerAddress);
    assert.equal(await connectedEventAddress(watcher, wsId), ns.peerAddress);
  });
});
