// A caller that is not on loopback: a network namespace joined to this one by a veth pair
// (10.77.N.1 here, 10.77.N.2 inside), for tests of what a remote client sees. Needs root and
// iproute2; `netnsUnavailable()` says why a test must skip. Everything stays on this machine.
import { execFileSync, spawn } from 'node:child_process';

export interface Netns {
  name: string;
  /** This namespace's end of the veth pair: what the caller connects to. */
  hostAddress: string;
  /** The caller's address, as a server here sees it. */
  callerAddress: string;
  /** Runs `node -e script` inside the namespace (cwd `cwd`); resolves with its stdout. Bounded. */
  runNode(script: string, cwd: string, timeoutMs?: number): Promise<string>;
  remove(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for ip netns';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return 'ip netns is not available (iproute2)';
  }
  return undefined;
}

export function createNetns(tag: string): Netns {
  // One /30 per (process, tag), so two namespaces of one test file do not collide.
  const n = (process.pid + [...tag].reduce((a, c) => a + c.charCodeAt(0), 0)) % 250;
  const name = `sb-${tag}-${process.pid}`;
  // Interface names are at most 15 bytes.
  const hostIf = `vh${tag.slice(0, 4)}${process.pid % 100000}`;
  const nsIf = `vn${tag.slice(0, 4)}${process.pid % 100000}`;
  const hostAddress = `10.77.${n}.1`;
  const callerAddress = `10.77.${n}.2`;
  const remove = () => {
    try {
      ip('netns', 'del', name);
    } catch {
      // not there
    }
    try {
      ip('link', 'del', hostIf);
    } catch {
      // went with the namespace
    }
  };
  remove();
  try {
    ip('netns', 'add', name);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    ip('link', 'set', nsIf, 'netns', name);
    ip('addr', 'add', `${hostAddress}/30`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    ip('netns', 'exec', name, 'ip', 'addr', 'add', `${callerAddress}/30`, 'dev', nsIf);
    ip('netns', 'exec', name, 'ip', 'link', 'set', nsIf, 'up');
    ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
  } catch (err) {
    remove();
    throw err;
  }
  process.once('exit', remove);
  return {
    name,
    hostAddress,
    callerAddress,
    remove,
    runNode(script, cwd, timeoutMs = 15_000) {
      return new Promise((res, rej) => {
        const child = spawn('ip', ['netns', 'exec', name, process.execPath, '--input-type=module', '-e', script], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.stderr.on('data', (c: Buffer) => (err += c.toString()));
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          rej(new Error(`caller in ${name} did not finish within ${timeoutMs} ms; stderr: ${err}`));
        }, timeoutMs);
        child.on('exit', (code) => {
          clearTimeout(timer);
          if (code === 0) res(out);
          else rej(new Error(`caller in ${name} exited with ${code}; stderr: ${err}`));
        });
      });
    },
  };
}
