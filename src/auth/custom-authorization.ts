// The broker's Authorization backed by AWS IoT-style custom authorizers and policy documents.
// CONNECT: select the authorizer (named by the client, else the default), verify the token
// signature if signing is on, invoke the authorizer off the event loop (or reuse a cached result),
// validate its response as AWS does, compile its documents for this connection, and check
// iot:Connect (and the will's iot:Publish / iot:RetainPublish). Every failure denies.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Authorization, ConnectDecision, ConnectRequest } from './authorization.js';
import type { AuthConfig } from '../config/schema.js';
import { RC } from '../protocol/reason-codes.js';
import {
  arnFor,
  compilePolicies,
  describeVerdict,
  IotAction,
  parsePolicyDocuments,
  type ArnScope,
  type CompiledPolicy,
  type PolicyDocument,
  type PolicyContext,
} from '../policy/index.js';
import type { AuthorizerStore } from '../store/authorizer-store.js';
import type { AuthorizerEvent, AuthorizerResponse } from './authorizer.js';
import { isLocalRequest } from './local-request.js';
import { consoleCredentialOf, type ConsoleCredentials } from './console-credentials.js';
import { signedUrlOf, type SignedUrlVerifier } from './signed-url.js';
import type { FunctionPool } from '../functions/function-pool.js';
import { invokeHttpAuthorizer } from './http-authorizer.js';
import { allowEverything, PolicyPermissions } from './policy-permissions.js';
import { buildEvent, findToken, selectAuthorizer, type CredentialSources } from './request.js';
import { validateAuthorizerResponse } from './response.js';
import type { ResultCache } from './result-cache.js';
import { verifyTokenSignature } from './signature.js';
import type { AuthorizerRecord } from '../store/authorizer-store.js';
import type { Counters } from '../metrics/counters.js';
import { systemClock, type Clock } from '../shared/clock.js';

export interface CustomAuthorizationOptions {
  config: AuthConfig;
  authorizers: AuthorizerStore;
  pool: FunctionPool;
  cache: ResultCache | null;
  logger: Logger;
  counters?: Counters;
  /** Credentials the console's MQTT test client presents (auth/console-credentials.ts). */
  consoleCredentials?: ConsoleCredentials;
  /** Checks a SigV4-presigned WebSocket URL against the access keys (api/access-keys.ts); absent: such URLs are refused. */
  verifySignedUrl?: SignedUrlVerifier;
  /** Keeps the refreshAfterInSeconds / disconnectAfterInSeconds deadlines; default the system clock. */
  clock?: Clock;
}

type Refusal = { allowed: false; reasonCode: number; reason: string };
const refuse = (reasonCode: number, reason: string): Refusal => ({ allowed: false, reasonCode, reason });

export class CustomAuthorization implements Authorization {
  private readonly config: AuthConfig;
  private readonly authorizers: AuthorizerStore;
  private readonly pool: FunctionPool;
  private readonly cache: ResultCache | null;
  private readonly logger: Logger;
  readonly scope: ArnScope;
  private readonly unauthenticated: PolicyDocument[] | null;
  private readonly anonymous: 'loopback' | 'everyone' | 'nobody';

  private readonly options: CustomAuthorizationOptions;

  constructor(options: CustomAuthorizationOptions) {
    this.options = options;
    this.config = options.config;
    this.authorizers = options.authorizers;
    this.pool = options.pool;
    this.cache = options.cache;
    this.logger = options.logger;
    this.scope = { region: options.config.region, accountId: options.config.accountId };
    const docs = options.config.unauthenticatedPolicy;
    if (docs !== undefined) {
      const parsed = parsePolicyDocuments(Array.isArray(docs) ? docs : [docs]);
      if (!parsed.ok) throw new Error(`auth.unauthenticatedPolicy is invalid: ${parsed.error.path}: ${parsed.error.message}`);
      this.unauthenticated = parsed.value;
    } else {
      this.unauthenticated = null;
    }
    const configured = options.config.authorizers.length > 0 || docs !== undefined;
    this.anonymous = options.config.anonymous ?? (configured ? 'nobody' : 'loopback');
  }

  get anonymousMode(): 'loopback' | 'everyone' | 'nobody' {
    return this.anonymous;
  }

  async authorizeConnect(request: ConnectRequest): Promise<ConnectDecision> {
    // The web console's MQTT test client connects as the console user who obtained its
    // one-time credential from the admin API; a credential that does not check out is refused
    // (never passed on to an authorizer as if it were absent).
    const credential = consoleCredentialOf(request.connection.request?.url);
    if (credential !== undefined) {
      const user = this.options.consoleCredentials?.take(credential) ?? null;
      if (user === null) return refuse(RC.notAuthorized, 'the console credential is unknown, used or expired');
      return { allowed: true, principal: `console:${user}`, permissions: allowEverything };
    }
    // A SigV4-presigned upgrade URL: the access key's policy documents decide, as AWS's IAM
    // policies do for a SigV4 WebSocket. One that does not verify is refused, never passed on.
    const signed = signedUrlOf(request.connection.request?.url);
    if (signed !== undefined) return this.signedUrlConnect(request, signed);
    const sources = credentialSources(request);
    const selection = selectAuthorizer(sources);
    const name = selection.authorizerName ?? this.authorizers.getDefault();
    if (name === undefined) return this.withoutAuthorizer(request);

    const outcome = await this.runAuthorizer(name, sources, selection.signature, request.clientId);
    if ('allowed' in outcome) return outcome;
    const { authorizer, event, response } = outcome;

    const context = policyContext(request);
    const policy = compilePolicies(response.policyDocuments, context);
    const denied = this.checkConnect(policy, request);
    if (denied !== null) return denied;

    const counters = this.options.counters;
    const permissions = new PolicyPermissions(policy, this.scope, {
      clock: this.options.clock ?? systemClock,
      disconnectAfterMs: response.disconnectAfterInSeconds * 1000,
      refresh: {
        afterMs: response.refreshAfterInSeconds * 1000,
        run: async () => {
          const next = await this.invoke(authorizer, event);
          if (!next.isAuthenticated) return { denied: `authorizer ${name} no longer authenticates the client` };
          const nextPolicy = compilePolicies(next.policyDocuments, context);
          const connect = nextPolicy.evaluate(IotAction.Connect, arnFor(this.scope, 'client', request.clientId));
          if (connect.effect !== 'Allow') return { denied: `not authorized: iot:Connect revoked at refresh (${describeVerdict(connect)})` };
          return { policy: nextPolicy, refreshAfterMs: next.refreshAfterInSeconds * 1000 };
        },
        ...(counters ? { applied: () => counters.authorizerRefreshes++ } : {}),
      },
    });
    return { allowed: true, principal: response.principalId, permissions };
  }

  /**
   * AWS answers a SigV4 WebSocket upgrade that does not verify with HTTP 403; here the upgrade has
   * already happened when CONNECT arrives, so the refusal is CONNACK "not authorized" (0x87 / 5).
   */
  private signedUrlConnect(request: ConnectRequest, url: { path: string; query: string }): ConnectDecision {
    const verify = this.options.verifySignedUrl;
    if (verify === undefined) return refuse(RC.notAuthorized, 'SigV4-signed WebSocket URL, but no access keys are configured');
    const verdict = verify({ ...url, headers: request.connection.request?.headers ?? {} });
    if ('refused' in verdict) return refuse(RC.notAuthorized, `SigV4 signature refused: ${verdict.refused}`);
    const policy = compilePolicies(verdict.documents, policyContext(request));
    const denied = this.checkConnect(policy, request);
    if (denied !== null) return denied;
    // Temporary credentials end the connection when they expire. AWS keeps such a connection until
    // its own 24-hour WebSocket limit; Switchboard has no such limit, so without this a credential
    // meant to last an hour would admit a client for as long as it stays connected
    // (docs/compatibility.md). SDKs reconnect with refreshed credentials.
    const clock = this.options.clock ?? systemClock;
    const lifetime =
      verdict.expiresAt !== undefined
        ? { clock, disconnectAfterMs: Math.max(0, verdict.expiresAt - clock.now()), disconnect: { reason: 'the temporary credential expired', why: 'credential-expired' } }
        : { clock };
    return { allowed: true, principal: verdict.principal, permissions: new PolicyPermissions(policy, this.scope, lifetime) };
  }

  /**
   * The steps every authorizer call shares: the authorizer exists and is ACTIVE, the token
   * signature verifies when signing is on (else refused without invoking it), the authorizer runs
   * (or a cached answer is reused) and authenticates the caller.
   */
  private async runAuthorizer(
    name: string,
    sources: CredentialSources,
    signature: string | undefined,
    who: string,
    httpOnly = false,
  ): Promise<Refusal | { authorizer: AuthorizerRecord; event: AuthorizerEvent; response: AuthorizerResponse }> {
    const authorizer = this.authorizers.get(name);
    if (authorizer === undefined) return refuse(RC.notAuthorized, `authorizer ${name} does not exist`);
    if (authorizer.status !== 'ACTIVE') return refuse(RC.notAuthorized, `authorizer ${name} is INACTIVE`);

    const token = authorizer.tokenKeyName ? findToken(sources, authorizer.tokenKeyName) : undefined;
    let signatureVerified = false;
    if (!authorizer.signingDisabled) {
      // Signing on: a missing or wrong signature is refused before the authorizer runs (AWS).
      if (token === undefined) return refuse(RC.badUserNameOrPassword, `no token under ${authorizer.tokenKeyName} for authorizer ${name}`);
      if (signature === undefined) return refuse(RC.badUserNameOrPassword, `no x-amz-customauthorizer-signature for authorizer ${name}`);
      if (!verifyTokenSignature(token, signature, authorizer.tokenSigningPublicKeys ?? {})) {
        return refuse(RC.badUserNameOrPassword, `token signature does not verify for authorizer ${name}`);
      }
      signatureVerified = true;
    }
    const event = buildEvent(sources, { token, signatureVerified, connectionId: randomUUID() });
    if (httpOnly) {
      // An HTTP request is not an MQTT connection: AWS sends protocols ["tls","http"] or ["http"].
      event.protocols = event.protocols.filter((p) => p !== 'mqtt');
      if (event.protocolData) delete (event.protocolData as { mqtt?: unknown }).mqtt;
    }

    let response: AuthorizerResponse;
    try {
      response = await this.invokeCached(authorizer, event);
    } catch (err) {
      this.logger.warn({ authorizer: name, caller: who, error: (err as Error).message }, 'authorizer failed; denied');
      return refuse(RC.notAuthorized, `authorizer ${name} failed`);
    }
    if (!response.isAuthenticated) return refuse(RC.badUserNameOrPassword, `authorizer ${name} did not authenticate the caller`);
    return { authorizer, event, response };
  }

  /**
   * An HTTP data-plane caller without SigV4 credentials: the authorizer it names (header or
   * query `x-amz-customauthorizer-name`), else the default authorizer, else the unauthenticated
   * policy, else the anonymous rule. Returns its policy (null = every right) or why it was refused.
   */
  async authorizeHttp(request: {
    path: string;
    query: string;
    headers: Record<string, string | string[] | undefined>;
    remoteAddress: string;
    /** The loopback rule holds (no proxy header, loopback Host and Origin); absent: not local. */
    local?: boolean;
    secure: boolean;
  }): Promise<{ principal: string; policy: CompiledPolicy | null } | { refused: string; status: 401 | 403 }> {
    const sources: CredentialSources = {
      transport: request.secure ? 'wss' : 'ws',
      upgradeUrl: request.query ? `${request.path}?${request.query}` : request.path,
      headers: request.headers,
    };
    const selection = selectAuthorizer(sources);
    const name = selection.authorizerName ?? this.authorizers.getDefault();
    const host = hostWithoutPort(Array.isArray(request.headers.host) ? request.headers.host[0] : request.headers.host);
    const context: PolicyContext = { sourceIp: request.remoteAddress, ...(host ? { domainName: host } : {}) };
    if (name === undefined) {
      if (this.unauthenticated !== null) return { principal: 'unauthenticated', policy: compilePolicies(this.unauthenticated, context) };
      if (this.anonymous === 'everyone' || (this.anonymous === 'loopback' && request.local === true)) {
        return { principal: 'anonymous', policy: null };
      }
      return {
        refused:
          this.anonymous === 'loopback'
            ? 'no credentials: sign the request with SigV4 or name a custom authorizer (anonymous requests are accepted only from this machine: a loopback Host, no proxy header, no other site\'s Origin)'
            : 'no credentials: sign the request with SigV4 or name a custom authorizer',
        status: 401,
      };
    }
    const outcome = await this.runAuthorizer(name, sources, selection.signature, request.remoteAddress, true);
    if ('allowed' in outcome) return { refused: outcome.reason, status: outcome.reasonCode === RC.badUserNameOrPassword ? 401 : 403 };
    return { principal: outcome.response.principalId, policy: compilePolicies(outcome.response.policyDocuments, context) };
  }

  /** No authorizer named and no default: the unauthenticated policy, else the anonymous rule. */
  private withoutAuthorizer(request: ConnectRequest): ConnectDecision {
    if (this.unauthenticated !== null) {
      const policy = compilePolicies(this.unauthenticated, policyContext(request));
      const denied = this.checkConnect(policy, request);
      if (denied !== null) return denied;
      return { allowed: true, principal: 'unauthenticated', permissions: new PolicyPermissions(policy, this.scope) };
    }
    const c = request.connection;
    if (this.anonymous === 'everyone' || (this.anonymous === 'loopback' && isLocalConnection(c))) {
      return { allowed: true, principal: 'anonymous', permissions: allowEverything };
    }
    return refuse(
      RC.notAuthorized,
      this.anonymous === 'nobody'
        ? 'no authorizer named, no default authorizer and no unauthenticated policy'
        : `anonymous clients are accepted only from this machine (loopback, no proxy header, loopback Host and Origin), not from ${c.remoteAddress}${c.proxiedBy !== undefined ? ` via ${c.proxiedBy}` : ''}`,
    );
  }

  /** iot:Connect on client/{id}, and the will's publish rights [AWS: will checked at CONNECT]. */
  private checkConnect(policy: CompiledPolicy, request: ConnectRequest): Refusal | null {
    const connect = policy.evaluate(IotAction.Connect, arnFor(this.scope, 'client', request.clientId));
    if (connect.effect !== 'Allow') {
      this.logger.info({ clientId: request.clientId, decision: describeVerdict(connect) }, 'iot:Connect denied');
      return refuse(RC.notAuthorized, `not authorized: iot:Connect on ${arnFor(this.scope, 'client', request.clientId)}`);
    }
    const will = request.will;
    if (will !== undefined) {
      const arn = arnFor(this.scope, 'topic', will.topic);
      for (const action of will.retain ? [IotAction.Publish, IotAction.RetainPublish] : [IotAction.Publish]) {
        const verdict = policy.evaluate(action, arn);
        if (verdict.effect !== 'Allow') {
          this.logger.info({ clientId: request.clientId, decision: describeVerdict(verdict) }, `${action} on the will topic denied`);
          return refuse(RC.notAuthorized, `not authorized: ${action} on ${arn} (will topic)`);
        }
      }
    }
    return null;
  }

  /** With the result cache on (auth.resultCacheSize > 0), identical concurrent requests share one invocation; off, each runs it. */
  private invokeCached(authorizer: AuthorizerRecord, event: AuthorizerEvent): Promise<AuthorizerResponse> {
    if (this.cache === null) return this.invoke(authorizer, event);
    return this.cache.lookup(authorizer.name, event, () => this.invoke(authorizer, event));
  }

  /** Runs the authorizer and validates its answer; throws with a message for the log. */
  async invoke(authorizer: AuthorizerRecord, event: AuthorizerEvent): Promise<AuthorizerResponse> {
    const counters = this.options.counters;
    if (counters) counters.authorizerInvocations++;
    const started = performance.now();
    let raw: unknown;
    try {
      raw =
        authorizer.type === 'function'
          ? await this.pool.invoke(authorizer.handler!, event, authorizer.timeoutMs)
          : await invokeHttpAuthorizer(authorizer.url!, event, authorizer.timeoutMs);
    } catch (err) {
      if (counters) counters.authorizerFailures++;
      throw err;
    } finally {
      counters?.authorizerDuration.observe((performance.now() - started) / 1000);
    }
    const checked = validateAuthorizerResponse(raw, { minSeconds: this.config.testingMinimumTtlSeconds ?? 300 });
    if (!checked.ok) {
      if (counters) counters.authorizerFailures++;
      throw new Error(`invalid authorizer response: ${checked.error}`);
    }
    return checked.value;
  }
}

/** The loopback rule for an MQTT connection: TCP by its peer, WebSocket by its upgrade request too. */
function isLocalConnection(c: ConnectRequest['connection']): boolean {
  const r = c.request;
  return isLocalRequest({ peerAddress: c.remoteAddress, proxied: c.proxiedBy !== undefined, headers: r?.headers, target: r?.url, hostCount: r?.hostCount });
}

function credentialSources(request: ConnectRequest): CredentialSources {
  const c = request.connection;
  const src: CredentialSources = { transport: c.transport, ...(request.protocol !== undefined ? { protocol: request.protocol } : {}) };
  if (c.request !== undefined) {
    src.upgradeUrl = c.request.url;
    src.headers = c.request.headers;
  }
  if (c.serverName !== undefined) src.serverName = c.serverName;
  if (request.username !== undefined) src.username = request.username;
  if (request.password !== undefined) src.password = request.password;
  if (request.clientId) src.clientId = request.clientId;
  return src;
}

function policyContext(request: ConnectRequest): PolicyContext {
  const c = request.connection;
  const host = c.serverName ?? hostWithoutPort(c.request?.headers.host);
  const attributes: string[] = [];
  if (!request.cleanStart) attributes.push('PersistentConnect');
  if (request.will !== undefined) attributes.push('LastWill');
  return {
    clientId: request.clientId,
    sourceIp: c.remoteAddress,
    ...(host ? { domainName: host } : {}),
    connectAttributes: attributes,
  };
}

function hostWithoutPort(host: string | undefined): string | undefined {
  if (!host) return undefined;
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const i = host.lastIndexOf(':');
  return i > 0 ? host.slice(0, i) : host;
}
