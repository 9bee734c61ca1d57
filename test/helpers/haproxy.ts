// Debian's HAProxy as a child process (`-db`: foreground) with a generated config in a temp
// directory, in front of a test server: a TCP frontend that sends the PROXY protocol v2 to the
// MQTT port, and an HTTP frontend with `option forwardfor`. Every wait is bounded.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const HAPROXY = '/usr/sbin/haproxy';

export function haproxyUnavailable(): string | undefined {
  return existsSync(HAPROXY) ? undefined : 'haproxy is not installed (scripts/install-test-deps.sh installs it)';
}

export interface HaproxyOptions {
  host: string;
  /** Frontend port for MQTT/TCP, sent to 127.0.0.1:mqttUpstream with send-proxy-v2. */
  mqttPort: number;
  mqttUpstream: number;
  /** Frontend port for HTTP/WebSocket, sent to 127.0.0.1:httpUpstream with X-Forwarded-For. */
  httpPort: number;
  httpUpstream: number;
}

export async function startHaproxy(o: HaproxyOptions): Promise<{ stop(): Promise<void>; output(): string }> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-haproxy-'));
  const conf = join(dir, 'haproxy.cfg');
  writeFileSync(
    conf,
    `global
  pidfile ${dir}/haproxy.pid
defaults
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout tunnel 60s
frontend mqtt
  mode tcp
  bind ${o.host}:${o.mqttPort}
  default_backend switchboard_mqtt
backend switchboard_mqtt
  mode tcp
  server sb1 127.0.0.1:${o.mqttUpstream} send-proxy-v2
frontend web
  mode http
  bind ${o.host}:${o.httpPort}
  option forwardfor
  default_backend switchboard_http
backend switchboard_http
  mode http
  server sb1 127.0.0.1:${o.httpUpstream}
`,
  );
  let output = '';
  const child = spawn(HAPROXY, ['-f', conf, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const kill = () => child.exitCode === null && child.kill('SIGKILL');
  process.once('exit', kill);
  const deadline = Date.now() + 10_000;
  for (const port of [o.mqttPort, o.httpPort]) {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}: ${output}`);
      const ok = await new Promise<boolean>((res) => {
        const s = net.connect(port, o.host, () => {
          s.destroy();
          res(true);
        });
        s.on('error', () => res(false));
      });
      if (ok) break;
      if (Date.now() > deadline) {
        kill();
        throw new Error(`haproxy is not listening on ${o.host}:${port} after 10 s: ${output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    output: () => output,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
        kill();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
