// Helpers for custom-authorizer tests: credentials placed where each transport carries them,
// connection attempts that may be refused, a packet log per client, a real HTTP authorizer,
// signing keys, policy documents, and the `switchboard` CLI run as a child process.
//
// Where credentials go (AWS IoT custom authentication, reference §1.2):
//   WebSocket  query string of the upgrade: ws://host/mqtt?x-amz-customauthorizer-name=N&token=T
//   TCP        CONNECT username query string: anything?x-amz-customauthorizer-name=N&token=T
// Values are percent-encoded; the base64 signature must be (it contains + / =).
import { spawn } from 'node:child_process';
import { createSign, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientSubscribeOptions, type ISubscriptionMap, type MqttClient } from 'mqtt';
import type { IConnackPacket, IDisconnectPacket, ISubackPacket, Packet } from 'mqtt-packet';
import { Inbox, trackClient, waitUntil, withTimeout, type ConnectOptions, type MqttEndpoints, type ProtocolVersion, type Transport } from './clients.js';
import { REPO_ROOT, startServer, type TestServer } from './server.js';
import { after, before } from 'node:test';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';
export const ARN = `arn:aws:iot:${REGION}:${ACCOUNT}:`;
export const NAME_KEY = 'x-amz-customauthorizer-name';
export const SIGNATURE_KEY = 'x-amz-customauthorizer-signature';

/** MQTT 5 reason codes the auth tests look for. */
export const RC = {
  notAuthorized: 0x87,
  unspecified: 0x80,
  maximumConnectTime: 0xa0,
} as const;

export const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'authorizers');
export const fixture = (name: string) => join(FIXTURES, name);

// ---------------------------------------------------------------------------------------------
// Credentials

/** `a=1&b=2` with every value percent-encoded; undefined values are left out. */
export function query(params: Record<string, string | undefined>): string {
  return Object.entries(params)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
}

/**
 * Connect options that carry `params` (authorizer name, token, signature) the way `transport`
 * does: the WebSocket URL's query string, or the TCP CONNECT username's.
 */
export function withCredentials(
  server: MqttEndpoints,
  transport: Transport,
  params: Record<string, string | undefined>,
  opts: ConnectOptions = {},
): ConnectOptions {
  const q = query(params);
  if (transport === 'ws') return { ...opts, transport, url: q ? `${server.wsUrl}?${q}` : server.wsUrl };
  return { ...opts, transport, ...(q ? { username: `anything?${q}` } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Connection attempts

export interface Attempt {
  /** CONNACK return/reason code 0. */
  accepted: boolean;
  connack: IConnackPacket | undefined;
  /** The connection closed (before or after CONNACK). */
  closed: boolean;
  client: MqttClient;
  inbox: Inbox;
  /** Every packet the server sent, in order (MQTT.js 'packetreceive'). */
  packets: Packet[];
}

/** Every packet a client receives, recorded from creation. */
export function recordPackets(client: MqttClient): Packet[] {
  const packets: Packet[] = [];
  client.on('packetreceive', (p: Packet) => packets.push(p));
  return packets;
}

/**
 * Connects with MQTT.js (no reconnect) and resolves once the outcome is known: CONNACK received
 * (accepted or refused) or the connection closed without one. Bounded (6 s).
 */
export async function attemptConnect(server: MqttEndpoints, opts: ConnectOptions = {}): Promise<Attempt> {
  const { transport = 'tcp', url, ...rest } = opts;
  const client = mqtt.connect(url ?? (transport === 'ws' ? server.wsUrl : server.mqttUrl), {
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    keepalive: 30,
    ...rest,
  });
  trackClient(client);
  const packets = recordPackets(client);
  const inbox = new Inbox(client);
  // MQTT.js emits 'error' for a refused CONNACK; the packet log has the code.
  client.on('error', () => undefined);
  const connack = () => packets.find((p) => p.cmd === 'connack') as IConnackPacket | undefined;
  await waitUntil(() => connack() !== undefined || inbox.closed, 6_000, 'CONNACK or close');
  const ack = connack();
  const code = ack ? (ack.reasonCode ?? ack.returnCode ?? 0) : -1;
  if (code !== 0) {
    // A refused CONNACK is followed by the server's close [MQTT-3.2.2-7]; wait for it (bounded).
    await waitUntil(() => inbox.closed, 3_000, 'close after a refused CONNACK').catch(() => undefined);
  }
  return { accepted: code === 0, connack: ack, closed: inbox.closed, client, inbox, packets };
}

/** The CONNACK's code (v5 reason code or v3 return code), or undefined without a CONNACK. */
export function connackCode(a: Attempt): number | undefined {
  return a.connack ? (a.connack.reasonCode ?? a.connack.returnCode) : undefined;
}

/**
 * A refused connection as each version shows it: v5 a CONNACK with a reason code >= 0x80; v3.1.1
 * a CONNACK with a non-zero return code or (as AWS does) a close without CONNACK.
 */
export function refusalProblem(a: Attempt, version: ProtocolVersion): string | null {
  const code = connackCode(a);
  const seen = `got ${code === undefined ? 'no CONNACK' : `CONNACK 0x${code.toString(16)}`}, ${a.closed ? 'closed' : 'open'}`;
  if (version === 5) {
    if (code === undefined || code < 0x80) return `expected a v5 CONNACK with reason >= 0x80; ${seen}`;
  } else if (code === 0) {
    return `expected the v3.1.1 connection to be refused; ${seen}`;
  }
  if (!a.closed) return `expected the connection to be closed; ${seen}`;
  return null;
}

/** Waits for a v5 server DISCONNECT, or just the close; returns the DISCONNECT if one came. */
export async function waitForServerClose(a: { inbox: Inbox }, timeoutMs: number): Promise<IDisconnectPacket | undefined> {
  await a.inbox.waitForClose(timeoutMs);
  return a.inbox.disconnects[0];
}

/**
 * Sends one SUBSCRIBE and resolves with the SUBACK's codes, one per filter, whether or not some
 * were refused (MQTT.js rejects `subscribeAsync` when any is). Bounded (3 s).
 */
export function subscribeCodes(
  client: MqttClient,
  filters: string | string[] | ISubscriptionMap,
  opts: IClientSubscribeOptions = { qos: 1 },
): Promise<{ codes: number[]; packet: ISubackPacket }> {
  return withTimeout(
    new Promise((res, rej) => {
      client.subscribe(filters, opts, (err, _granted, packet) => {
        const p = (packet ?? (err as { packet?: ISubackPacket } | undefined)?.packet) as ISubackPacket | undefined;
        if (p?.cmd === 'suback') res({ codes: p.granted as number[], packet: p });
        else rej(err ?? new Error('no SUBACK'));
      });
    }),
    3_000,
    `SUBACK for ${JSON.stringify(filters)}`,
  );
}

/** The packets of `cmd` received so far. */
export function packetsOf<T extends Packet>(packets: Packet[], cmd: Packet['cmd']): T[] {
  return packets.filter((p) => p.cmd === cmd) as T[];
}

// ---------------------------------------------------------------------------------------------
// Policies and authorizer answers

export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Sid?: string;
}

export const allow = (Action: string | string[], Resource: string | string[]): Statement => ({ Effect: 'Allow', Action, Resource });
export const deny = (Action: string | string[], Resource: string | string[]): Statement => ({ Effect: 'Deny', Action, Resource });
export const doc = (...Statement: Statement[]) => ({ Version: '2012-10-17', Statement });
/** `client/x`, `topic/t`, `topicfilter/f` as full ARNs. */
export const arn = (...resources: string[]) => resources.map((r) => ARN + r);

export interface AuthorizerAnswer {
  isAuthenticated: boolean;
  principalId: string;
  policyDocuments: unknown[];
  disconnectAfterInSeconds: number;
  refreshAfterInSeconds: number;
}

export function answer(policyDocuments: unknown[], over: Partial<AuthorizerAnswer> = {}): AuthorizerAnswer {
  return {
    isAuthenticated: true,
    principalId: 'TestPrincipal',
    policyDocuments,
    disconnectAfterInSeconds: 3600,
    refreshAfterInSeconds: 300,
    ...over,
  };
}

// ---------------------------------------------------------------------------------------------
// The token-keyed function authorizer (test/fixtures/authorizers/e2e-by-token.js)

/**
 * A directory the fixture `e2e-by-token.js` reads: `<token>.json` is the answer for that token
 * (re-read on every call, so a test can change it), `<token>.calls` gets a line per call.
 * Pass `env` to the server.
 */
export class TokenAnswers {
  readonly dir: string;
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'switchboard-auth-'));
  }
  /** Not SWITCHBOARD_*: those are configuration fields to the server. */
  get env(): Record<string, string> {
    return { E2E_AUTH_ANSWERS: this.dir };
  }
  /** Sets the answer for `token` (an object, or `{ throw: 'message' }` to make the handler throw). */
  set(token: string, value: unknown): void {
    const file = join(this.dir, `${token}.json`);
    // rename is atomic: the handler never reads a half-written file
    writeFileSync(file + '.tmp', JSON.stringify(value));
    renameSync(file + '.tmp', file);
  }
  /** How many times the handler ran for `token`. */
  calls(token: string): number {
    const file = join(this.dir, `${token}.calls`);
    if (!existsSync(file)) return 0;
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
  }
  /** The events the handler received for `token`, in order. */
  events(token: string): Record<string, unknown>[] {
    const file = join(this.dir, `${token}.calls`);
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// A real HTTP authorizer

export interface HttpAuthorizer {
  url: string;
  /** Bodies of the requests received, parsed. */
  events: Record<string, unknown>[];
  close(): Promise<void>;
}

const httpServers = new Set<http.Server>();

/**
 * A node:http server on 127.0.0.1:0 answering each POST with `respond(event)` as JSON (status 200),
 * or with `{ status, body }` when `respond` returns that shape under the `__http` key.
 */
export async function startHttpAuthorizer(
  respond: (event: Record<string, unknown>) => unknown,
): Promise<HttpAuthorizer> {
  const events: Record<string, unknown>[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let event: Record<string, unknown> = {};
      try {
        event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        // recorded as {}
      }
      events.push(event);
      Promise.resolve(respond(event)).then(
        (value) => {
          const special = (value as { __http?: { status: number; body: string } } | undefined)?.__http;
          if (special) {
            res.writeHead(special.status, { 'content-type': 'application/json' });
            res.end(special.body);
            return;
          }
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(value));
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
    });
  });
  httpServers.add(server);
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/authorize`,
    events,
    close: () => closeHttp(server),
  };
}

function closeHttp(server: http.Server): Promise<void> {
  httpServers.delete(server);
  server.closeAllConnections();
  return new Promise((res) => server.close(() => res()));
}

export async function closeHttpAuthorizers(): Promise<void> {
  await Promise.all([...httpServers].map(closeHttp));
}

// ---------------------------------------------------------------------------------------------
// Token signing (AWS: base64 RSA PKCS#1 v1.5 SHA-256 over the token, key >= 2048 bits)

export interface SigningKeys {
  publicKey: string;
  privateKey: string;
  sign(token: string): string;
}

export function signingKeys(): SigningKeys {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    publicKey,
    privateKey,
    sign: (token) => createSign('RSA-SHA256').update(token).sign(privateKey, 'base64'),
  };
}

// ---------------------------------------------------------------------------------------------
// The CLI

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/switchboard.js ...args` from the repository root; bounded (default 20 s). */
export function runCli(args: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CliResult> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'switchboard.js'), ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`switchboard ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      rej(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

/** A temporary file holding `content`, removed with `removeTempFiles()`. */
const tempDirs: string[] = [];
export function tempFile(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-tmp-'));
  tempDirs.push(dir);
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}
export function removeTempFiles(): void {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/**
 * The suite shape several files share: one server before all tests, whose `ByToken` authorizer
 * answers each token with what the test set in `answers` (e2e-by-token.js). Registers its hooks
 * with node:test; `server()` throws when called before the server started.
 */
export function useTokenAuthorizerServer(): { answers: TokenAnswers; server: () => TestServer } {
  const answers = new TokenAnswers();
  let running: TestServer | undefined;
  before(async () => {
    running = await startServer({
      env: answers.env,
      auth: {
        authorizers: [{ name: 'ByToken', type: 'function', handler: fixture('e2e-by-token.js'), signingDisabled: true, tokenKeyName: 'token' }],
      },
    });
  });
  after(() => answers.remove());
  return {
    answers,
    server: () => {
      if (!running) throw new Error('server not started');
      return running;
    },
  };
}

/** attemptConnect to `url` as `clientId`, reduced to its connackCode (-1: closed without one). */
export async function connectForCode(url: string, clientId: string, protocolVersion: 4 | 5 = 5): Promise<{ code: number; client: MqttClient }> {
  const attempt = await attemptConnect({ wsUrl: url, mqttUrl: url }, { url, clientId, protocolVersion });
  return { code: connackCode(attempt) ?? -1, client: attempt.client };
}
