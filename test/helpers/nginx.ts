// Debian's real nginx as a child process in front of a test server: a generated config in a temp
// directory (`-p`, `-c`, `daemon off`, pid and logs there), stopped in after(). Every wait is bounded.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NGINX = '/usr/sbin/nginx';

export function nginxUnavailable(): string | undefined {
  return existsSync(NGINX) ? undefined : 'nginx is not installed (scripts/install-test-deps.sh installs nginx-light)';
}

/** A port that was free a moment ago on `host`. */
export function freePort(host: string): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => res(port));
    });
  });
}

export interface ProxySite {
  /** Where nginx listens. */
  listen: { host: string; port: number };
  /** Where it sends the requests: a Switchboard HTTP listener. */
  upstreamPort: number;
}

export interface RunningNginx {
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * One server block per site: WebSocket upgrade on /mqtt and everything else proxied, with the
 * headers docs/deployment.md tells an operator to set (Host, X-Forwarded-For, X-Forwarded-Proto).
 */
export function nginxConfig(dir: string, sites: ProxySite[]): string {
  const servers = sites
    .map(
      (s) => `
  server {
    listen ${s.listen.host}:${s.listen.port};
    location / {
      proxy_pass http://127.0.0.1:${s.upstreamPort};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_read_timeout 60s;
    }
  }`,
    )
    .join('\n');
  return `${process.getuid?.() === 0 ? 'user root;\n' : ''}daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
${servers}
}
`;
}

async function waitListening(host: string, port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${log()}`);
    const ok = await new Promise<boolean>((res) => {
      const s = net.connect(port, host, () => {
        s.destroy();
        res(true);
      });
      s.on('error', () => res(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nginx is not listening on ${host}:${port} after 10 s: ${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startNginx(sites: ProxySite[]): Promise<RunningNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-nginx-'));
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig(dir, sites));
  const errorLog = () => {
    try {
      return readFileSync(join(dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  let stderr = '';
  const child = spawn(NGINX, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const kill = () => child.exitCode === null && child.kill('SIGKILL');
  process.once('exit', kill);
  try {
    for (const s of sites) await waitListening(s.listen.host, s.listen.port, child, () => stderr + errorLog());
  } catch (err) {
    kill();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    errorLog,
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
