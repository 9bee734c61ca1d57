/**
 * Invoking an authorizer (function or http), and TestInvokeAuthorizer on top of it
 * (reference §1.8): the same request and response shapes and error names as AWS, so
 * scripts written against `aws iot test-invoke-authorizer` read our answers unchanged.
 *
 * Request: token, tokenSignature (base64), httpContext {headers, queryString},
 * mqttContext {username, password (base64), clientId}, tlsContext {serverName}.
 * Response: {isAuthenticated, principalId, policyDocuments: [JSON string...],
 * refreshAfterInSeconds, disconnectAfterInSeconds}.
 *
 * Choices where AWS documents nothing [unconfirmed]:
 * - `protocols` lists the contexts given ('tls' for tlsContext, 'http' for httpContext, 'mqtt'
 *   for mqttContext); with a token only, it is empty and `protocolData` absent (the latter is documented).
 * - With signing on, a missing token or signature, or one that does not verify, is an
 *   InvalidRequestException. The token is taken from `token`, else looked up under
 *   tokenKeyName in the contexts as a connection would; likewise the signature.
 * - An INACTIVE authorizer can still be tested.
 * - Any invocation failure (error, timeout, unreachable URL) is an InvalidResponseException, as
 *   is a response that breaks the contract; a closed pool is a ServiceUnavailableException.
 * - httpContext.queryString is passed to the authorizer as given.
 */
import { randomUUID } from 'node:crypto';

import {
  AuthorizerInvokeError,
  resolveHandlerPath,
  type AuthorizerDefinition,
  type AuthorizerEvent,
} from './authorizer.js';
import type { FunctionPool } from '../functions/function-pool.js';
import { invokeHttpAuthorizer } from './http-authorizer.js';
import { findToken, selectAuthorizer, type CredentialSources } from './request.js';
import { validateAuthorizerResponse } from './response.js';
import { decodeSignature, verifyTokenSignature } from './signature.js';

export interface InvokeDeps {
  /** Needed for function authorizers. */
  pool?: FunctionPool;
  /** Directory relative handler paths are resolved against; default the working directory. */
  baseDir?: string;
}

/** Invokes the authorizer once; the raw result, or an AuthorizerInvokeError. */
export function invokeAuthorizer(definition: AuthorizerDefinition, event: AuthorizerEvent, deps: InvokeDeps): Promise<unknown> {
  if (definition.type === 'function') {
    if (definition.handler === undefined || definition.handler === '') {
      return Promise.reject(new AuthorizerInvokeError('MISCONFIGURED', `function authorizer ${definition.name} has no handler`));
    }
    if (deps.pool === undefined) {
      return Promise.reject(new AuthorizerInvokeError('MISCONFIGURED', `no function pool to run authorizer ${definition.name}`));
    }
    const path = resolveHandlerPath(definition.handler, deps.baseDir ?? process.cwd());
    return deps.pool.invoke(path, event, definition.timeoutMs);
  }
  if (definition.url === undefined || definition.url === '') {
    return Promise.reject(new AuthorizerInvokeError('MISCONFIGURED', `http authorizer ${definition.name} has no url`));
  }
  return invokeHttpAuthorizer(definition.url, event, definition.timeoutMs);
}

export const TEST_INVOKE_ERROR_STATUS = {
  InvalidRequestException: 400,
  InvalidResponseException: 400,
  UnauthorizedException: 401,
  ResourceNotFoundException: 404,
  ThrottlingException: 429,
  InternalFailureException: 500,
  ServiceUnavailableException: 503,
} as const;

export type TestInvokeErrorName = keyof typeof TEST_INVOKE_ERROR_STATUS;

/** An AWS-style API error: `name` is the AWS error code, `statusCode` its HTTP status. */
export class TestInvokeError extends Error {
  override readonly name: TestInvokeErrorName;
  readonly statusCode: number;

  constructor(name: TestInvokeErrorName, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = name;
    this.statusCode = TEST_INVOKE_ERROR_STATUS[name];
  }
}

export interface TestInvokeInput {
  token?: string;
  tokenSignature?: string;
  httpContext?: { headers?: Record<string, string>; queryString?: string };
  /** `password` is base64, as the blob travels in the AWS JSON API. */
  mqttContext?: { username?: string; password?: string; clientId?: string };
  tlsContext?: { serverName?: string };
}

export interface TestInvokeOutput {
  isAuthenticated: boolean;
  principalId: string;
  policyDocuments: string[];
  refreshAfterInSeconds: number;
  disconnectAfterInSeconds: number;
}

export interface TestInvokeDeps extends InvokeDeps {
  pool: FunctionPool;
  /** Test-only relaxation of the 300 s minimum, as for connections (response.ts). */
  minSeconds?: number;
}

const SIGNATURE_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/;

export async function testInvokeAuthorizer(
  definition: AuthorizerDefinition,
  input: TestInvokeInput,
  deps: TestInvokeDeps,
): Promise<TestInvokeOutput> {
  const problem = checkInput(input);
  if (problem !== null) throw new TestInvokeError('InvalidRequestException', problem);

  const sources = credentialSources(input);
  let token = input.token;
  if (token === undefined && definition.tokenKeyName !== undefined) token = findToken(sources, definition.tokenKeyName);
  let signatureVerified = false;
  if (!definition.signingDisabled) {
    const signature = input.tokenSignature ?? selectAuthorizer(sources).signature;
    if (token === undefined) {
      throw new TestInvokeError('InvalidRequestException', `authorizer ${definition.name} has signing enabled: a token is required`);
    }
    if (signature === undefined) {
      throw new TestInvokeError('InvalidRequestException', `authorizer ${definition.name} has signing enabled: a tokenSignature is required`);
    }
    if (!verifyTokenSignature(token, signature, definition.tokenSigningPublicKeys ?? {})) {
      throw new TestInvokeError('InvalidRequestException', `tokenSignature does not verify with any public key of authorizer ${definition.name}`);
    }
    signatureVerified = true;
  }

  const event = testEvent(input, token, signatureVerified);
  let raw: unknown;
  try {
    raw = await invokeAuthorizer(definition, event, deps);
  } catch (e) {
    if (e instanceof AuthorizerInvokeError) {
      if (e.code === 'POOL_CLOSED') throw new TestInvokeError('ServiceUnavailableException', e.message, { cause: e });
      if (e.code === 'MISCONFIGURED') throw new TestInvokeError('InvalidRequestException', e.message, { cause: e });
      throw new TestInvokeError('InvalidResponseException', e.message, { cause: e });
    }
    throw new TestInvokeError('InternalFailureException', (e as Error).message, { cause: e });
  }
  const validated = validateAuthorizerResponse(raw, deps.minSeconds === undefined ? {} : { minSeconds: deps.minSeconds });
  if (!validated.ok) {
    throw new TestInvokeError('InvalidResponseException', `authorizer ${definition.name} returned an invalid response: ${validated.error}`);
  }
  const r = validated.value;
  return {
    isAuthenticated: r.isAuthenticated,
    principalId: r.principalId,
    policyDocuments: r.rawPolicyDocuments,
    refreshAfterInSeconds: r.refreshAfterInSeconds,
    disconnectAfterInSeconds: r.disconnectAfterInSeconds,
  };
}

/** The model's constraints on TestInvokeAuthorizerRequest; null when the input is acceptable. */
function checkInput(input: TestInvokeInput): string | null {
  const { token, tokenSignature, httpContext, mqttContext, tlsContext } = input;
  if (token !== undefined && !lengthWithin(token, 1, 6144)) return 'token must be 1-6144 characters';
  if (tokenSignature !== undefined && (!lengthWithin(tokenSignature, 1, 2560) || !SIGNATURE_PATTERN.test(tokenSignature))) {
    return 'tokenSignature must be 1-2560 characters of base64';
  }
  if (httpContext !== undefined) {
    const { headers, queryString } = httpContext;
    if (headers !== undefined) {
      if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) return 'httpContext.headers must be a map of strings';
      for (const [name, value] of Object.entries(headers)) {
        if (typeof value !== 'string') return `httpContext.headers.${name} must be a string`;
      }
    }
    if (queryString !== undefined && !lengthWithin(queryString, 1, 4096)) return 'httpContext.queryString must be 1-4096 characters';
  }
  if (mqttContext !== undefined) {
    const { username, password, clientId } = mqttContext;
    if (username !== undefined && !lengthWithin(username, 1, 65535)) return 'mqttContext.username must be 1-65535 characters';
    if (clientId !== undefined && !lengthWithin(clientId, 1, 65535)) return 'mqttContext.clientId must be 1-65535 characters';
    if (password !== undefined) {
      const bytes = typeof password === 'string' ? decodeSignature(password) : null;
      if (bytes === null || bytes.length < 1 || bytes.length > 65535) return 'mqttContext.password must be base64 of 1-65535 bytes';
    }
  }
  if (tlsContext?.serverName !== undefined && !lengthWithin(tlsContext.serverName, 1, 253)) {
    return 'tlsContext.serverName must be 1-253 characters';
  }
  return null;
}

function lengthWithin(value: unknown, min: number, max: number): boolean {
  return typeof value === 'string' && value.length >= min && value.length <= max;
}

/** The contexts as a connection's credentials, for token and signature lookup only. */
function credentialSources(input: TestInvokeInput): CredentialSources {
  const src: CredentialSources = { transport: input.httpContext === undefined ? 'tls' : 'wss' };
  const query = input.httpContext?.queryString;
  if (query !== undefined) src.upgradeUrl = query.startsWith('?') ? query : `?${query}`;
  if (input.httpContext?.headers !== undefined) src.headers = input.httpContext.headers;
  if (input.mqttContext?.username !== undefined) src.username = input.mqttContext.username;
  return src;
}

function testEvent(input: TestInvokeInput, token: string | undefined, signatureVerified: boolean): AuthorizerEvent {
  const protocols: string[] = [];
  const protocolData: NonNullable<AuthorizerEvent['protocolData']> = {};
  if (input.tlsContext !== undefined) {
    protocols.push('tls');
    if (input.tlsContext.serverName !== undefined) protocolData.tls = { serverName: input.tlsContext.serverName };
  }
  if (input.httpContext !== undefined) {
    protocols.push('http');
    protocolData.http = { headers: { ...input.httpContext.headers }, queryString: input.httpContext.queryString ?? '' };
  }
  if (input.mqttContext !== undefined) {
    protocols.push('mqtt');
    const { username, password, clientId } = input.mqttContext;
    protocolData.mqtt = {
      ...(username === undefined ? {} : { username }),
      // Normalised (whitespace and padding) by decoding and encoding again.
      ...(password === undefined ? {} : { password: (decodeSignature(password) ?? Buffer.alloc(0)).toString('base64') }),
      ...(clientId === undefined ? {} : { clientId }),
    };
  }
  return {
    ...(token === undefined ? {} : { token }),
    signatureVerified,
    protocols,
    ...(Object.keys(protocolData).length === 0 ? {} : { protocolData }),
    connectionMetadata: { id: randomUUID() },
  };
}
