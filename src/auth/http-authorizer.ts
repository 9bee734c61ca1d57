/**
 * HTTP authorizers: the event is POSTed as JSON to a URL, which answers with the response
 * JSON (the same contract as a Lambda authorizer, over HTTP instead of a Lambda invoke).
 *
 * - The whole exchange, body included, must finish within `timeoutMs`.
 * - Any 2xx status with a JSON body is a result; the contract itself is checked by response.ts.
 *   Anything else (other status, non-JSON body, body over MAX_HTTP_RESPONSE_BYTES, network
 *   error, redirect) is an AuthorizerInvokeError.
 * - Redirects are refused rather than followed: a redirected POST may silently become a GET.
 * - Credentials in the URL (`https://user:pass@host/path`) are sent as HTTP Basic auth, since
 *   fetch refuses URLs that carry them.
 * - Messages name the URL without its query string or credentials, which may carry secrets.
 */
import { AuthorizerInvokeError, type AuthorizerEvent } from './authorizer.js';

/** Ten 2 KB policies and the other fields fit many times over. */
export const MAX_HTTP_RESPONSE_BYTES = 256 * 1024;

export async function invokeHttpAuthorizer(url: string, event: AuthorizerEvent, timeoutMs: number): Promise<unknown> {
  const where = describeUrl(url);
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  let target = url;
  try {
    const u = new URL(url);
    if (u.username !== '' || u.password !== '') {
      const user = decodeURIComponent(u.username);
      const password = decodeURIComponent(u.password);
      headers['authorization'] = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
      u.username = '';
      u.password = '';
      target = u.href;
    }
  } catch {
    // Not a URL: fetch reports it below.
  }
  const signal = AbortSignal.timeout(timeoutMs);
  let status: number;
  let body: string;
  try {
    const response = await fetch(target, {
      method: 'POST',
      headers,
      body: JSON.stringify(event),
      redirect: 'error',
      signal,
    });
    status = response.status;
    body = await readBody(response, where);
  } catch (e) {
    if (e instanceof AuthorizerInvokeError) throw e;
    if (signal.aborted) {
      throw new AuthorizerInvokeError('TIMEOUT', `HTTP authorizer ${where} timed out after ${timeoutMs} ms`);
    }
    // The message may quote the URL; never its query string.
    const reason = causeText(e).split(target).join(where);
    throw new AuthorizerInvokeError('HTTP_ERROR', `HTTP authorizer ${where} request failed: ${reason}`);
  }
  if (status < 200 || status > 299) {
    throw new AuthorizerInvokeError('HTTP_STATUS', `HTTP authorizer ${where} answered status ${status}${excerpt(body)}`);
  }
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new AuthorizerInvokeError('INVALID_RESULT', `HTTP authorizer ${where} answered with a body that is not JSON${excerpt(body)}`);
  }
}

async function readBody(response: Response, where: string): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_HTTP_RESPONSE_BYTES) {
      await reader.cancel();
      throw new AuthorizerInvokeError('INVALID_RESULT', `HTTP authorizer ${where} answered with more than ${MAX_HTTP_RESPONSE_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function excerpt(body: string): string {
  const text = body.trim();
  if (text === '') return '';
  return `: ${JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text)}`;
}

function causeText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  // fetch reports "fetch failed" and puts the reason (ECONNREFUSED, redirect...) in `cause`.
  const cause = e.cause;
  return cause instanceof Error ? `${e.message} (${cause.message})` : e.message;
}
