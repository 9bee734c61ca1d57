// What the admin plane can do to authorizers, once, for both of its fronts: the /api/authorizers
// routes (the CLI and console) and the AWS IoT control plane (control-plane/authorizers.ts).
// Validation is the config schema's (auth/authorizer-records.ts); network input is a value,
// never a path: a handler names a function in functions.dir, a key is PEM text. Failures are
// ApiErrors with AWS's error types.
import { arnPrefix, type ArnScope } from '../policy/index.js';
import type { AuthorizerRecord, AuthorizerStore } from '../store/authorizer-store.js';
import { AuthorizerDefinitionError, checkApiValues, describe, parseDefinition, toRecord } from '../auth/authorizer-records.js';
import type { FunctionDirectory } from '../functions/function-directory.js';
import type { FunctionPool } from '../functions/function-pool.js';
import { testInvokeAuthorizer, type TestInvokeInput, type TestInvokeOutput } from '../auth/test-invoke.js';
import { ApiError, badRequest, notFound } from './errors.js';

export interface AuthorizerOperationsOptions {
  store: AuthorizerStore;
  scope: ArnScope;
  pool: FunctionPool;
  /** The config's directory (records made from the API never read a path). */
  baseDir: string;
  /** functions.dir: where a handler named over the API must be. */
  functions: FunctionDirectory;
  testingMinimumTtlSeconds: number | undefined;
}

/** Fields fixed at creation (AWS: signing cannot be switched; the name and kind are the identity). */
const FIXED = ['name', 'type', 'signingDisabled'] as const;

function valid<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof AuthorizerDefinitionError) throw badRequest(err.message);
    throw err;
  }
}

export class AuthorizerOperations {
  private readonly options: AuthorizerOperationsOptions;
  private readonly prefix: string;

  constructor(options: AuthorizerOperationsOptions) {
    this.options = options;
    this.prefix = arnPrefix(options.scope);
  }

  arn(name: string): string {
    return `${this.prefix}authorizer/${name}`;
  }

  list(): AuthorizerRecord[] {
    return this.options.store.list();
  }

  get(name: string): AuthorizerRecord {
    const record = this.options.store.get(name);
    if (record === undefined) throw notFound(`authorizer ${name} does not exist`);
    return record;
  }

  /** The DescribeAuthorizer shape of Switchboard's admin API. */
  describe(record: AuthorizerRecord): ReturnType<typeof describe> {
    return describe(record, this.prefix, this.options.store.getDefault() === record.name);
  }

  /** A definition in Switchboard's shape (name, type, handler, ...); 409 when the name is taken. */
  create(input: unknown): AuthorizerRecord {
    const definition = valid(() => parseDefinition(input));
    valid(() => checkApiValues(definition, this.options.functions));
    if (this.options.store.get(definition.name) !== undefined) {
      throw new ApiError('ResourceAlreadyExistsException', 409, `authorizer ${definition.name} already exists`);
    }
    const record = valid(() => toRecord(definition, this.options.baseDir, undefined, 'api'));
    this.options.store.put(record);
    return record;
  }

  /** Applies `changes` (Switchboard's field names) to an existing authorizer. */
  update(name: string, changes: unknown): AuthorizerRecord {
    const record = this.get(name);
    if (typeof changes !== 'object' || changes === null || Array.isArray(changes)) throw badRequest('body must be an object');
    const fields = changes as Record<string, unknown>;
    for (const fixed of FIXED) {
      if (fixed in fields && fields[fixed] !== record[fixed]) throw badRequest(`${fixed} cannot be changed after creation`);
    }
    const { creationDate: _c, lastModifiedDate: _m, ...current } = record;
    // Only the values this request supplies are checked: a handler path the config file gave
    // the record stays (the operator wrote it) unless the request replaces it.
    valid(() => checkApiValues(fields, this.options.functions));
    const merged = valid(() => parseDefinition({ ...current, ...fields }));
    const updated = valid(() => toRecord(merged, this.options.baseDir, record, 'api'));
    this.options.store.put(updated);
    return updated;
  }

  delete(name: string): void {
    if (!this.options.store.delete(name)) throw notFound(`authorizer ${name} does not exist`);
  }

  /** The default authorizer's name, if one is set. */
  currentDefault(): string | undefined {
    return this.options.store.getDefault();
  }

  defaultName(): string {
    const name = this.options.store.getDefault();
    if (name === undefined) throw notFound('no default authorizer is set');
    return name;
  }

  setDefault(name: unknown): string {
    if (typeof name !== 'string') throw badRequest('authorizerName is required');
    this.get(name);
    this.options.store.setDefault(name);
    return name;
  }

  clearDefault(): void {
    this.options.store.setDefault(undefined);
  }

  testInvoke(name: string, input: TestInvokeInput): Promise<TestInvokeOutput> {
    return testInvokeAuthorizer(this.get(name), input, {
      pool: this.options.pool,
      ...(this.options.testingMinimumTtlSeconds !== undefined ? { minSeconds: this.options.testingMinimumTtlSeconds } : {}),
    });
  }
}
