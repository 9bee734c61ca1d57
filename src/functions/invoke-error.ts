// Why a function invocation produced no result: the pool's and the worker's shared vocabulary.
// The names say "authorizer" because authorizers were the first functions and logs and metrics key
// on them; rule actions get the same codes.
/** Why an invocation produced no result. Stable: logs and metrics key on the code. */
export const INVOKE_ERROR_SUMMARIES = {
  TIMEOUT: 'authorizer timed out',
  LOAD_ERROR: 'authorizer module could not be loaded',
  NO_HANDLER: 'authorizer module exports no handler function',
  HANDLER_ERROR: 'authorizer handler failed',
  INVALID_RESULT: 'authorizer result is not JSON',
  WORKER_RESTARTED: 'authorizer worker was restarted',
  POOL_CLOSED: 'authorizer pool is closed',
  HTTP_STATUS: 'HTTP authorizer answered with an error status',
  HTTP_ERROR: 'HTTP authorizer request failed',
  MISCONFIGURED: 'authorizer definition is incomplete',
} as const;

export type InvokeErrorCode = keyof typeof INVOKE_ERROR_SUMMARIES;

/** Every failure to get a raw result from an authorizer. The broker logs it and denies. */
export class AuthorizerInvokeError extends Error {
  override readonly name = 'AuthorizerInvokeError';
  readonly code: InvokeErrorCode;

  constructor(code: InvokeErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
