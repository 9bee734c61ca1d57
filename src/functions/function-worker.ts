/**
 * Worker-thread side of FunctionPool: loads authorizer modules and calls their `handler`
 * the way the AWS Lambda Node.js runtime does, so unmodified Lambda code runs here.
 *
 * - Each module is imported once per path and kept (`import()` of a file URL loads ESM and
 *   CommonJS alike; CommonJS `exports.handler` appears as `handler` or `default.handler`).
 *   Editing a module needs a restart (or a new pool) to take effect.
 * - `handler(event, context, callback)`: the first of (a) the returned promise settling,
 *   (b) `callback(err, result)`, (c) a non-undefined synchronous return value decides.
 *   (c) is a leniency: on Lambda a synchronous return is ignored and the runtime waits for
 *   the callback; here a synchronous handler that returns nothing also waits for the callback.
 * - The result crosses back as JSON text, as Lambda serialises results (toJSON honoured,
 *   undefined -> null).
 * - Timeouts are enforced by the pool, which terminates this thread if it stops answering pings.
 * - Invocations arrive in batches (one message, many requests) and results go back the same way:
 *   each result joins the outgoing batch as soon as its handler settles, and the batch is posted
 *   from setImmediate, after the handlers that settled in this turn have all answered.
 *
 * Self-contained on purpose (node: imports and type-only imports): it runs from dist/ as
 * plain JS and from src/ under tsx.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parentPort } from 'node:worker_threads';

import type { InvokeErrorCode } from './invoke-error.js';

type InvokeRequest = { type: 'invoke'; id: number; handlerPath: string; event: unknown; deadline: number };
type InvokeReply = { type: 'result'; id: number; json: string } | { type: 'error'; id: number; code: InvokeErrorCode; message: string };

/** `batch.json`: the JSON text of an InvokeRequest[] (cheaper to pass than objects to clone). */
export type WorkerRequest = InvokeRequest | { type: 'batch'; json: string } | { type: 'ping'; id: number };

export type WorkerReply = InvokeReply | { type: 'batch'; replies: InvokeReply[] } | { type: 'pong'; id: number } | { type: 'ready' };

type Callback = (error?: unknown, result?: unknown) => void;
type Handler = (event: unknown, context: LambdaContext, callback: Callback) => unknown;

interface LambdaContext {
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  awsRequestId: string;
  logGroupName: string;
  logStreamName: string;
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
  // Legacy Lambda context methods, still found in old authorizers.
  done(error?: unknown, result?: unknown): void;
  succeed(result?: unknown): void;
  fail(error?: unknown): void;
}

class Failure {
  constructor(
    readonly code: InvokeErrorCode,
    readonly message: string,
  ) {}
}

const handlers = new Map<string, Promise<Handler>>();

function loadHandler(path: string): Promise<Handler> {
  let loading = handlers.get(path);
  if (loading === undefined) {
    loading = importHandler(path);
    handlers.set(path, loading);
    // Forget failures so a fixed file is retried (node may still cache a module that threw).
    loading.catch(() => handlers.delete(path));
  }
  return loading;
}

async function importHandler(path: string): Promise<Handler> {
  let ns: Record<string, unknown>;
  try {
    ns = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (e) {
    // A Lambda handler is CommonJS (`exports.handler = ...`) even when it sits in a folder whose
    // package.json says "type": "module" (as in a project like ours); Lambda loads it as CommonJS,
    // so we do too when ESM evaluation finds CommonJS globals.
    if (!looksLikeCommonJsInEsmScope(e)) throw new Failure('LOAD_ERROR', `cannot load authorizer module ${path}: ${errorText(e)}`);
    try {
      const exported = loadAsCommonJs(path) as Record<string, unknown> | null;
      ns = { handler: exported?.['handler'], default: exported };
    } catch (e2) {
      throw new Failure('LOAD_ERROR', `cannot load authorizer module ${path}: ${errorText(e2)}`);
    }
  }
  const direct = ns['handler'];
  if (typeof direct === 'function') return direct as Handler;
  const fallback = ns['default'];
  const viaDefault = typeof fallback === 'object' && fallback !== null ? (fallback as Record<string, unknown>)['handler'] : undefined;
  if (typeof viaDefault === 'function') return viaDefault as Handler;
  throw new Failure('NO_HANDLER', `authorizer module ${path} does not export a function named "handler"`);
}

function looksLikeCommonJsInEsmScope(e: unknown): boolean {
  const text = e instanceof Error ? e.message : String(e);
  return /\b(exports|require|module) is not defined in ES module scope/.test(text);
}

const commonJsCache = new Map<string, unknown>();

/** Compiles a file as a CommonJS module whatever its package.json says (node's own loader). */
function loadAsCommonJs(path: string): unknown {
  if (commonJsCache.has(path)) return commonJsCache.get(path);
  const require = createRequire(path);
  const source = readFileSync(path, 'utf8');
  const module = { exports: {} as unknown };
  // The same wrapper node uses for CommonJS: (exports, require, module, __filename, __dirname).
  const wrapper = new Function('exports', 'require', 'module', '__filename', '__dirname', source) as (
    exports: unknown,
    require: NodeRequire,
    module: { exports: unknown },
    filename: string,
    dirname: string,
  ) => void;
  wrapper(module.exports, require, module, path, dirname(path));
  commonJsCache.set(path, module.exports);
  return module.exports;
}

/** What a context says about its function, worked out once per module path. */
const functionNames = new Map<string, { name: string; arn: string; logGroup: string }>();

function functionNameOf(path: string): { name: string; arn: string; logGroup: string } {
  let named = functionNames.get(path);
  if (named === undefined) {
    const name = basename(path, extname(path));
    named = { name, arn: `arn:aws:lambda:local:000000000000:function:${name}`, logGroup: `/aws/lambda/${name}` };
    functionNames.set(path, named);
  }
  return named;
}

function lambdaContext(path: string, deadline: number, callback: Callback): LambdaContext {
  const { name, arn, logGroup } = functionNameOf(path);
  const requestId = randomUUID();
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, '/');
  return {
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: arn,
    memoryLimitInMB: '128',
    awsRequestId: requestId,
    logGroupName: logGroup,
    logStreamName: `${day}/[$LATEST]${requestId.replace(/-/g, '')}`,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: (error, result) => callback(error, result),
    succeed: (result) => callback(null, result),
    fail: (error) => callback(error ?? new Error('context.fail() called')),
  };
}

function callHandler(handler: Handler, path: string, event: unknown, deadline: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const failed = (e: unknown) => reject(new Failure('HANDLER_ERROR', `authorizer handler in ${path} failed: ${errorText(e)}`));
    const callback: Callback = (error, result) => {
      if (error !== undefined && error !== null) failed(error);
      else resolve(result);
    };
    let returned: unknown;
    try {
      returned = handler(event, lambdaContext(path, deadline, callback), callback);
    } catch (e) {
      failed(e);
      return;
    }
    if (isThenable(returned)) returned.then(resolve, failed);
    else if (returned !== undefined) resolve(returned);
  });
}

async function invoke(request: InvokeRequest): Promise<InvokeReply> {
  const { id, handlerPath, event, deadline } = request;
  try {
    const handler = await loadHandler(handlerPath);
    const result = await callHandler(handler, handlerPath, event, deadline);
    let json: string | undefined;
    try {
      json = JSON.stringify(result === undefined ? null : result);
    } catch (e) {
      return { type: 'error', id, code: 'INVALID_RESULT', message: `authorizer handler in ${handlerPath} returned a value that is not JSON-serialisable: ${errorText(e)}` };
    }
    // JSON.stringify gives undefined for a function or symbol; Lambda would send null.
    return { type: 'result', id, json: json ?? 'null' };
  } catch (e) {
    if (e instanceof Failure) return { type: 'error', id, code: e.code, message: e.message };
    return { type: 'error', id, code: 'HANDLER_ERROR', message: `authorizer handler in ${handlerPath} failed: ${errorText(e)}` };
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function errorText(e: unknown): string {
  if (e instanceof Error) return e.message === '' ? e.name : `${e.name}: ${e.message}`;
  if (typeof e === 'string') return e;
  try {
    return JSON.stringify(e) ?? String(e);
  } catch {
    return String(e);
  }
}

let outgoing: InvokeReply[] = [];

function answer(reply: InvokeReply): void {
  outgoing.push(reply);
  if (outgoing.length === 1) setImmediate(flushReplies);
}

function flushReplies(): void {
  const replies = outgoing;
  outgoing = [];
  parentPort?.postMessage({ type: 'batch', replies } satisfies WorkerReply);
}

function onMessage(request: WorkerRequest): void {
  if (request.type === 'ping') {
    parentPort?.postMessage({ type: 'pong', id: request.id } satisfies WorkerReply);
    return;
  }
  if (request.type === 'batch') {
    for (const one of JSON.parse(request.json) as InvokeRequest[]) void invoke(one).then(answer);
    return;
  }
  void invoke(request).then(answer);
}

if (parentPort !== null) {
  parentPort.on('message', onMessage);
  parentPort.postMessage({ type: 'ready' } satisfies WorkerReply);
}
