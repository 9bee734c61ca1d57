// Store errors as values with stable codes (logs and the CLI key on `code`). Opening fails with a
// StoreOpenError before anything is written; a failed commit becomes a StoreCommitError, reported
// once through the logger and Store.onError; a read the store cannot serve right now (Redis
// unreachable) rejects with a StoreUnavailableError. For Redis, `file` is the URL with any
// password replaced by '***'.

/** What to tell the operator for each start-up failure: the problem, then what to do. */
const OPEN_ERROR_TEMPLATES = {
  locked: (file: string, detail: string) =>
    `${file} is in use by another process (${detail}); is another Switchboard running on the same store path? ` +
    'Stop it, or give this one a different store.path.',
  corrupt: (file: string, detail: string) =>
    `${file} is not a usable Switchboard database (${detail}). It was left untouched: if it is a Switchboard store, ` +
    'restore it from a backup; otherwise move it aside (an empty store is then created) or choose another store.path.',
  unreadable: (file: string, detail: string) =>
    `cannot read ${file} (${detail}). Check that it is a regular file and that the user running Switchboard may read it.`,
  'newer-schema': (file: string, detail: string) =>
    `${file} was written by a newer Switchboard (${detail}). It was left untouched: run that newer version, ` +
    'or restore a backup made by this one.',
  unwritable: (file: string, detail: string) =>
    `cannot write ${file} (${detail}). Give the user running Switchboard write access to the file and its directory, ` +
    'or choose another store.path.',
  unreachable: (url: string, detail: string) =>
    `cannot use Redis at ${url} (${detail}). Check store.url (host, port, password, rediss:// for TLS), that Redis ` +
    'is running and reachable from this host, then start again.',
  'sealing-key': (url: string, detail: string) =>
    `the access-key sealing key for ${url} cannot be used (${detail}). Every node sharing a Redis store must use the ` +
    'same key: give them all the same store.sealingKey (SWITCHBOARD_SEALING_KEY), or none so they share the one kept in Redis.',
} as const;

export type StoreOpenErrorCode = keyof typeof OPEN_ERROR_TEMPLATES;

export class StoreOpenError extends Error {
  readonly code: StoreOpenErrorCode;
  /** The database file (or directory) concerned. */
  readonly file: string;
  constructor(code: StoreOpenErrorCode, file: string, detail: string, cause?: unknown) {
    super(OPEN_ERROR_TEMPLATES[code](file, detail), cause === undefined ? undefined : { cause });
    this.name = 'StoreOpenError';
    this.code = code;
    this.file = file;
  }
}

/**
 * A batch of changes could not be committed. The store stops writing (see SqliteStore): what is on
 * disk is every batch before this one, and callbacks waiting on this batch never run.
 */
export class StoreCommitError extends Error {
  readonly code = 'commit-failed';
  readonly file: string;
  /** Changes lost with the batch. */
  readonly changes: number;
  /** `advice`: what to check, in place of the SQLite one (disk full? I/O error?). */
  constructor(file: string, changes: number, cause: unknown, advice = 'Fix the cause (disk full? I/O error?) and restart.') {
    super(
      `committing ${changes} change(s) to ${file} failed (${errorDetail(cause)}); the store accepts no more writes ` +
        `and nothing since the last commit is durable. ${advice}`,
      { cause },
    );
    this.name = 'StoreCommitError';
    this.file = file;
    this.changes = changes;
  }
}

/**
 * The store cannot answer a read now (Redis unreachable, or pending writes could not be committed
 * in time). Nothing was changed; the caller may try again later (a CONNECT can be refused with
 * "server unavailable").
 */
export class StoreUnavailableError extends Error {
  readonly code = 'unavailable';
  readonly file: string;
  constructor(file: string, detail: string, cause?: unknown) {
    super(`the store at ${file} cannot be read now (${detail}); try again once it is reachable`, cause === undefined ? undefined : { cause });
    this.name = 'StoreUnavailableError';
    this.file = file;
  }
}

export function errorDetail(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && !err.message.startsWith(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
