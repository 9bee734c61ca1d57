// Shapes of the admin API's answers the console reads (src/api/*.ts on the server side).

export interface Overview {
  version: string;
  anonymous: 'loopback' | 'everyone' | 'nobody';
  authorizers: string[];
  defaultAuthorizer: string | null;
  listeners: {
    http: { host: string; port: number; tls: boolean } | false;
    mqtt: { host: string; port: number; tls: boolean } | false;
  };
  store: string;
}

export interface Denials {
  connect: number;
  publish: number;
  subscribe: number;
  receive: number;
}

export interface MetricsTotals {
  connects: number;
  connectFailures: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  qos0Dropped: number;
  queueDropped: number;
  authorizerInvocations: number;
  denials: Denials;
  ruleExecutions: number;
  ruleFailures: number;
  connectionMinutes: number;
  billedMessages: number;
}

export interface Metrics {
  time: number;
  connected: number;
  /** Connected now by protocol (mqtt, json: JSON over WebSocket, sse: Server-Sent Events); absent from older servers. */
  connectedByProtocol?: Record<string, number>;
  totals: MetricsTotals;
}

export type Range = '15m' | '1h' | '24h';

/** One step of the kept history: counts during the step, `connected` at its end (max over it). */
export interface MetricsPoint {
  t: number;
  connected: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  qos0Dropped: number;
  connects: number;
  connectFailures: number;
  failuresByReason: Record<string, number>;
  authorizerInvocations: number;
  denials: Denials;
  ruleExecutions: number;
  ruleFailures: number;
}

export interface MetricsHistory {
  range: Range;
  stepSeconds: number;
  points: MetricsPoint[];
}

export interface Connection {
  clientId: string;
  principal: string;
  ipAddress: string;
  port: number;
  /** 'mqtt', 'json' (JSON over WebSocket, /ws) or 'sse' (Server-Sent Events, /events); absent from older servers: MQTT. */
  protocol?: string;
  protocolVersion: string;
  transport: string;
  connectedSince: string;
  keepAliveSeconds: number;
  persistentSession: boolean;
  subscriptions: { topicFilter: string; qos: number }[];
  messagesIn: number;
  messagesOut: number;
  inflight: number;
  queued: number;
  droppedMessages: number;
}

export interface AuthorizerSummary {
  authorizerName: string;
  authorizerArn: string;
  status: 'ACTIVE' | 'INACTIVE';
}

export interface AuthorizerDescription {
  authorizerName: string;
  authorizerArn: string;
  type?: string;
  tokenKeyName?: string;
  status: string;
  signingDisabled?: boolean;
  isDefault?: boolean;
  [key: string]: unknown;
}

export interface TestInvokeInput {
  token?: string;
  tokenSignature?: string;
  httpContext?: { headers?: Record<string, string>; queryString?: string };
  mqttContext?: { username?: string; password?: string; clientId?: string };
  tlsContext?: { serverName?: string };
}

export interface TestInvokeResult {
  isAuthenticated: boolean;
  principalId: string;
  policyDocuments: string[];
  refreshAfterInSeconds: number;
  disconnectAfterInSeconds: number;
}

export interface PolicyCheckInput {
  policyDocuments: unknown[];
  action: string;
  resource: string;
  clientId?: string;
  sourceIp?: string;
}

export interface PolicyCheckResult {
  effect: 'Allow' | 'Deny';
  reason: 'allowed' | 'explicitDeny' | 'implicitDeny';
  resource: string;
  decidedBy: string;
  /** 0-based: the document and the statement within it that decided; null for an implicit deny. */
  statement?: { documentIndex: number; statementIndex: number; sid?: string } | null;
}

export interface RetainedMessage {
  topic: string;
  qos: number;
  payloadSize: number;
  /** base64 */
  payload: string;
  lastModifiedTime: number;
  properties?: Record<string, unknown>;
}

export interface RuleSummary {
  name: string;
  sql: string;
  description?: string;
  ruleDisabled: boolean;
  awsIotSqlVersion?: string;
  actions: Record<string, unknown>[];
  errorAction?: Record<string, unknown>;
  createdAt?: number | string;
  lastModifiedAt?: number | string;
  /** This node's executions, failures and last error for the rule. */
  stats?: RuleStats;
}

export interface RuleStats {
  executions: number;
  failures: number;
  lastError?: { at: string; action: string; resource: string; message: string };
}

/** The body of POST /api/rules and PUT /api/rules/{name}. */
export interface RuleInput {
  name: string;
  sql: string;
  description?: string;
  ruleDisabled?: boolean;
  actions: Record<string, unknown>[];
  errorAction?: Record<string, unknown>;
}

export interface RuleTestInput {
  sql: string;
  topic: string;
  /** JSON text or any string. */
  payload: string;
  clientId?: string;
}

export type RuleTestResult = { matched: false } | { matched: true; result: unknown };
