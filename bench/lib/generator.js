// Parent side of a load-generator process (worker.js): started pinned to the generator core with
// taskset, driven by request/response messages over IPC, each bounded by a timeout.
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const workerPath = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker.js');

export async function startGenerator(cores, name) {
  // fork runs `execPath ...execArgv worker.js`: taskset execs node, which finds the IPC channel
  // through NODE_CHANNEL_FD, so every thread of the generator starts on `cores`.
  const child = fork(workerPath, [], {
    execPath: 'taskset',
    execArgv: ['-c', String(cores), process.execPath, '--max-old-space-size=4096'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map();
  let nextId = 1;
  let exited = false;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`generator ${name} did not start`)), 10000);
    child.once('message', (msg) => {
      clearTimeout(timer);
      if (msg && msg.ready) resolve();
      else reject(new Error(`generator ${name}: unexpected first message`));
    });
    child.once('exit', () => reject(new Error(`generator ${name} exited at start`)));
  });
  child.on('message', (msg) => {
    const w = waiting.get(msg.id);
    if (!w) return;
    waiting.delete(msg.id);
    clearTimeout(w.timer);
    if (msg.ok) w.resolve(msg.result);
    else w.reject(new Error(`generator ${name} ${w.cmd}: ${msg.error}`));
  });
  child.on('exit', (code, signal) => {
    exited = true;
    for (const w of waiting.values()) {
      clearTimeout(w.timer);
      w.reject(new Error(`generator ${name} exited (${code ?? signal}) during ${w.cmd}`));
    }
    waiting.clear();
  });
  return {
    name,
    pid: child.pid,
    call(cmd, args = {}, timeoutMs = 120000) {
      if (exited) return Promise.reject(new Error(`generator ${name} has exited`));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`generator ${name} ${cmd}: no answer in ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(id, { resolve, reject, timer, cmd });
        child.send({ id, cmd, args });
      });
    },
    async stop() {
      if (exited) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    },
  };
}
