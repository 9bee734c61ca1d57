// A caller that is not on loopback, without touching another host: a network namespace joined to
// this one by a veth pair. The host side gets 10.213.N.1, the namespace 10.213.N.2 (N chosen
// free at random, so tests running at the same time do not collide). A server listening on
// 0.0.0.0 or on hostAddress sees requests sent through exec() as coming from peerAddress.
//
// Needs root and iproute2 (`ip`). Every namespace created here is deleted by cleanup() (call it
// from after()); a process 'exit' hook deletes any left behind if the runner dies first.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Written to the command's stdin, which is then closed. */
  input?: string;
  /** Killed (SIGKILL) after this long; default 30 s. */
  timeoutMs?: number;
}

export interface Netns {
  name: string;
  /** This (the host's) end of the veth pair. */
  hostAddress: string;
  /** The namespace's end: the address a server sees for commands run by exec(). */
  peerAddress: string;
  /** Runs `cmd args` inside the namespace (`ip netns exec`). */
  exec(cmd: string, args: string[], options?: ExecOptions): Promise<ExecResult>;
  /** Runs an ES module `script` with this Node.js inside the namespace (cwd `cwd`); resolves with its stdout, rejects on a non-zero exit. */
  runNode(script: string, cwd: string, timeoutMs?: number): Promise<string>;
  /** Deletes the namespace and its veth pair. Idempotent. */
  cleanup(): Promise<void>;
}

const live = new Set<() => void>();
let exitHooked = false;

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
}

function subnetInUse(octet: number): boolean {
  return ip(['-4', '-o', 'addr', 'show']).includes(` 10.213.${octet}.`);
}

/** Why a namespace cannot be made here (a test skips with it), or undefined when it can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for ip netns';
  try {
    ip(['netns', 'list']);
  } catch {
    return 'ip netns is not available (iproute2)';
  }
  return undefined;
}

export async function createNetns(): Promise<Netns> {
  const id = randomBytes(3).toString('hex');
  const name = `sbtest-${id}`;
  const hostIf = `sbh${id}`;
  const peerIf = `sbp${id}`;
  let octet = -1;
  for (let i = 0; i < 20 && octet < 0; i++) {
    const candidate = randomBytes(1)[0]!;
    if (!subnetInUse(candidate)) octet = candidate;
  }
  if (octet < 0) throw new Error('no free 10.213.N.0/24 subnet for a test namespace');
  const hostAddress = `10.213.${octet}.1`;
  const peerAddress = `10.213.${octet}.2`;

  let done = false;
  const remove = () => {
    if (done) return;
    done = true;
    live.delete(remove);
    // Deleting the namespace deletes the veth end inside it, and with it the pair.
    for (const args of [['netns', 'del', name], ['link', 'del', hostIf]]) {
      try {
        ip(args);
      } catch {
        // already gone
      }
    }
  };
  live.add(remove);
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', () => {
      for (const r of [...live]) r();
    });
  }
  try {
    ip(['netns', 'add', name]);
    ip(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', peerIf]);
    ip(['link', 'set', peerIf, 'netns', name]);
    ip(['addr', 'add', `${hostAddress}/24`, 'dev', hostIf]);
    ip(['link', 'set', hostIf, 'up']);
    ip(['netns', 'exec', name, 'ip', 'addr', 'add', `${peerAddress}/24`, 'dev', peerIf]);
    ip(['netns', 'exec', name, 'ip', 'link', 'set', peerIf, 'up']);
    ip(['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
  } catch (err) {
    remove();
    throw new Error(`cannot create network namespace ${name} (root and iproute2 needed): ${(err as Error).message}`);
  }

  const exec = (cmd: string, args: string[], options: ExecOptions & { cwd?: string } = {}): Promise<ExecResult> =>
    new Promise((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', name, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'], ...(options.cwd ? { cwd: options.cwd } : {}) });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      child.stdin.end(options.input ?? '');
    });

  const runNode = async (script: string, cwd: string, timeoutMs = 15_000): Promise<string> => {
    const r = await exec(process.execPath, ['--input-type=module', '-e', script], { cwd, timeoutMs });
    if (r.code !== 0) throw new Error(`caller in ${name} exited with ${r.code ?? 'a signal (timeout?)'}; stderr: ${r.stderr}`);
    return r.stdout;
  };

  return { name, hostAddress, peerAddress, exec, runNode, cleanup: async () => remove() };
}

export interface NetnsRequest {
  method: string;
  host: string;
  port: number;
  /** Sent exactly as given, percent-encoding and all. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface NetnsResponse {
  /** 0 when the request failed (refused, reset, timed out after 10 s). */
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

/** Sends each request in turn from inside the namespace with node's http client. */
export async function httpFrom(ns: Netns, requests: NetnsRequest[]): Promise<NetnsResponse[]> {
  const script = `
    const http = require('node:http');
    let input = '';
    process.stdin.on('data', (d) => (input += d)).on('end', async () => {
      const out = [];
      for (const r of JSON.parse(input)) {
        out.push(await new Promise((resolve) => {
          const req = http.request({ host: r.host, port: r.port, path: r.path, method: r.method, headers: r.headers ?? {}, timeout: 10000, agent: false }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers }));
          });
          req.on('timeout', () => req.destroy());
          req.on('error', () => resolve({ status: 0, headers: {} }));
          req.end(r.body);
        }));
      }
      process.stdout.write(JSON.stringify(out));
    });`;
  const result = await ns.exec(process.execPath, ['-e', script], { input: JSON.stringify(requests), timeoutMs: 120_000 });
  if (result.code !== 0) throw new Error(`request script failed (${result.code}): ${result.stderr}`);
  return JSON.parse(result.stdout) as NetnsResponse[];
}

/** httpFrom() when only the status codes matter. */
export async function httpStatusesFrom(ns: Netns, requests: NetnsRequest[]): Promise<number[]> {
  return (await httpFrom(ns, requests)).map((r) => r.status);
}
