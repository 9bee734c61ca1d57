// The admin API as the console calls it: same origin, JSON, errors as { code, message }. Every
// state-changing request carries the CSRF header the server demands of cookie sessions
// (src/api/admin-sessions.ts); a 401 anywhere but /api/session means the session ended.
import type {
  AuthorizerDescription,
  AuthorizerSummary,
  Connection,
  Metrics,
  MetricsHistory,
  Overview,
  PolicyCheckInput,
  PolicyCheckResult,
  Range,
  RetainedMessage,
  RuleInput,
  RuleSummary,
  RuleTestInput,
  RuleTestResult,
  TestInvokeInput,
  TestInvokeResult,
} from './api-types.js';

export const CSRF_HEADER = 'x-switchboard-csrf';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** "code: message" for display, whatever was thrown. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

const enc = encodeURIComponent;

export class Api {
  /** Called once per 401 from a data request: the console shows the sign-in page. */
  onUnauthorized: () => void = () => undefined;

  async request<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (method !== 'GET') headers[CSRF_HEADER] = '1';
    // No content-type without a body: the server rejects an empty JSON body.
    if (body !== undefined) headers['content-type'] = 'application/json';
    const init: RequestInit = { method, headers, credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined) init.body = JSON.stringify(body);
    let res: Response;
    try {
      res = await fetch(path, init);
    } catch {
      throw new ApiError(0, 'NetworkError', 'the server cannot be reached');
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let data: unknown = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!res.ok) {
      const e = (data ?? {}) as { code?: unknown; message?: unknown };
      if (res.status === 401 && !path.startsWith('/api/session')) this.onUnauthorized();
      throw new ApiError(
        res.status,
        typeof e.code === 'string' ? e.code : `HTTP ${res.status}`,
        typeof e.message === 'string' ? e.message : res.statusText || 'request failed',
      );
    }
    return data as T;
  }

  // Session
  session = () => this.request<{ user: string }>('GET', '/api/session');
  signIn = (username: string, password: string) => this.request<void>('POST', '/api/session', { username, password });
  signOut = () => this.request<void>('DELETE', '/api/session');

  /** A one-time credential for the MQTT test client's next connection (valid for a minute). */
  mqttCredential = () => this.request<{ credential: string; parameter: string; expiresAt: string }>('POST', '/api/console/mqtt-credential');

  overview = () => this.request<Overview>('GET', '/api/overview');

  // Metrics
  metrics = () => this.request<Metrics>('GET', '/api/metrics');
  /** `since` (epoch ms) asks for newer points only; a server that ignores it sends them all. */
  history = (range: Range, since?: number) =>
    this.request<MetricsHistory>('GET', `/api/metrics/history?range=${range}${since !== undefined ? `&since=${since}` : ''}`);

  // Connections
  connections = (q: string, limit = 200, page: { offset?: number; sort?: string; order?: 'asc' | 'desc' } = {}) =>
    this.request<{ connections: Connection[]; total: number }>(
      'GET',
      `/api/connections?q=${enc(q)}&limit=${limit}${page.offset ? `&offset=${page.offset}` : ''}${page.sort ? `&sort=${enc(page.sort)}&order=${page.order ?? 'asc'}` : ''}`,
    );
  connection = (clientId: string) => this.request<Connection>('GET', `/api/connections/${enc(clientId)}`);
  disconnect = (clientId: string) => this.request<void>('DELETE', `/api/connections/${enc(clientId)}`);

  // Authorizers and policies
  authorizers = () => this.request<{ authorizers: AuthorizerSummary[]; defaultAuthorizerName: string | null }>('GET', '/api/authorizers');
  authorizer = (name: string) => this.request<{ authorizerDescription: AuthorizerDescription }>('GET', `/api/authorizers/${enc(name)}`);
  createAuthorizer = (definition: Record<string, unknown>) => this.request<unknown>('POST', '/api/authorizers', definition);
  updateAuthorizer = (name: string, changes: Record<string, unknown>) => this.request<unknown>('PATCH', `/api/authorizers/${enc(name)}`, changes);
  setDefaultAuthorizer = (name: string) => this.request<unknown>('PUT', '/api/default-authorizer', { authorizerName: name });
  testAuthorizer = (name: string, input: TestInvokeInput) => this.request<TestInvokeResult>('POST', `/api/authorizers/${enc(name)}/test`, input);
  checkPolicy = (input: PolicyCheckInput) => this.request<PolicyCheckResult>('POST', '/api/policy/check', input);

  // Retained messages
  retained = (filter: string, limit = 500) => this.request<{ total: number; retained: RetainedMessage[] }>('GET', `/api/retained?filter=${enc(filter)}&limit=${limit}`);
  deleteRetained = (topic: string) => this.request<void>('DELETE', `/api/retained?topic=${enc(topic)}`);

  // Rules
  rules = () => this.request<{ rules: RuleSummary[]; queued?: number }>('GET', '/api/rules');
  setRuleEnabled = (name: string, enabled: boolean) => this.request<RuleSummary>('POST', `/api/rules/${enc(name)}/${enabled ? 'enable' : 'disable'}`);
  createRule = (rule: RuleInput) => this.request<RuleSummary>('POST', '/api/rules', rule);
  updateRule = (name: string, rule: RuleInput) => this.request<RuleSummary>('PUT', `/api/rules/${enc(name)}`, rule);
  deleteRule = (name: string) => this.request<void>('DELETE', `/api/rules/${enc(name)}`);
  testRule = (input: RuleTestInput) => this.request<RuleTestResult>('POST', '/api/rules/test', input);
}
