// Opening the SQLite file safely. An existing file is first examined through a read-only handle
// (is it readable, a SQLite file, intact, ours, not from a newer version, not in use?) and only
// then opened read-write, switched to WAL and migrated, so a refusal leaves its bytes untouched.
//
// Exclusive use: `locking_mode = EXCLUSIVE` plus one write transaction at open makes this process
// hold the lock until close. A second opener (another Switchboard on the same path) then fails
// within LOCK_WAIT_MS with 'locked' instead of sharing the file; as a bonus, WAL needs no -shm
// file in exclusive mode.
import { accessSync, closeSync, constants, mkdirSync, openSync, readSync, rmSync, statSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { errorDetail, StoreOpenError, type StoreOpenErrorCode } from './errors.js';
import { APPLICATION_ID, LATEST_SCHEMA_VERSION } from './sqlite-schema.js';

/** How long to wait for a lock held by someone else before giving up with 'locked'. */
const LOCK_WAIT_MS = 200;
/** After a checkpoint the WAL is truncated to this size, so it does not keep its peak size. */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

export interface DatabaseOptions {
  /** The directory; created if missing. */
  path: string;
  fileName: string;
  synchronous: 'NORMAL' | 'FULL';
}

/** Returns the read-write handle, exclusively locked, in WAL mode, not yet migrated. */
export function openDatabase(options: DatabaseOptions): { db: Database.Database; file: string } {
  const dir = resolve(options.path);
  const file = join(dir, options.fileName);
  ensureDirectory(dir, file);
  const existing = statOrUndefined(file, file);
  if (existing !== undefined) examineExisting(file, existing);
  ensureWritable(dir, file, existing !== undefined);

  let db: Database.Database;
  try {
    db = new Database(file, { timeout: LOCK_WAIT_MS });
  } catch (err) {
    throw classify(err, file, 'write');
  }
  try {
    // Set before the first access: EXCLUSIVE must be in force when WAL is entered.
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma(`synchronous = ${options.synchronous}`);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new StoreOpenError('unwritable', file, `SQLite could not switch it to WAL mode (journal_mode is ${String(mode)})`);
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    // Takes the write lock now, and keeps it (EXCLUSIVE), rather than at the first change.
    db.exec('BEGIN IMMEDIATE; COMMIT');
  } catch (err) {
    db.close();
    throw err instanceof StoreOpenError ? err : classify(err, file, 'write');
  }
  // The read-only examination may have created a -shm file; in EXCLUSIVE mode SQLite keeps the
  // WAL index in memory instead, and the lock we now hold means nobody else can be using it.
  rmSync(`${file}-shm`, { force: true });
  return { db, file };
}

/** Maps an error from SQLite (or the file system) during open to a StoreOpenError. */
export function classify(err: unknown, file: string, phase: 'read' | 'write'): StoreOpenError {
  const code = String((err as { code?: unknown }).code ?? '');
  let kind: StoreOpenErrorCode;
  if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED' || code.startsWith('SQLITE_LOCKED_')) kind = 'locked';
  else if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) kind = 'corrupt';
  else if (code.startsWith('SQLITE_READONLY') || code === 'EROFS') kind = 'unwritable';
  // SQLITE_CANTOPEN, SQLITE_IOERR*, EACCES...: what failed is what we were trying to do.
  else kind = phase === 'write' ? 'unwritable' : 'unreadable';
  return new StoreOpenError(kind, file, `SQLite: ${errorDetail(err)}`, err);
}

function ensureDirectory(dir: string, file: string): void {
  const st = statOrUndefined(dir, file);
  if (st === undefined) {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new StoreOpenError('unwritable', file, `cannot create its directory ${dir}: ${errorDetail(err)}`, err);
    }
  } else if (!st.isDirectory()) {
    throw new StoreOpenError('unwritable', file, `the store path ${dir} exists and is not a directory`);
  }
}

/** The read-only examination of a file that exists; throws on anything that stops us using it. */
function examineExisting(file: string, st: Stats): void {
  if (st.isDirectory()) throw new StoreOpenError('unreadable', file, 'it is a directory, not a database file');
  if (!st.isFile()) throw new StoreOpenError('unreadable', file, 'it is not a regular file');
  // SQLite treats an empty file as an empty database; so do we.
  if (st.size === 0) return;

  const header = Buffer.alloc(SQLITE_HEADER.length);
  let read = 0;
  try {
    const fd = openSync(file, 'r');
    try {
      read = readSync(fd, header, 0, header.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw new StoreOpenError('unreadable', file, errorDetail(err), err);
  }
  if (read < header.length || !header.equals(SQLITE_HEADER)) {
    throw new StoreOpenError('corrupt', file, 'it is not a SQLite database: the SQLite header is missing');
  }

  let ro: Database.Database;
  try {
    ro = new Database(file, { readonly: true, fileMustExist: true, timeout: LOCK_WAIT_MS });
  } catch (err) {
    throw classify(err, file, 'read');
  }
  try {
    const problems = (ro.pragma('quick_check') as { quick_check: string }[]).map((r) => r.quick_check);
    if (problems.length !== 1 || problems[0] !== 'ok') {
      throw new StoreOpenError('corrupt', file, `PRAGMA quick_check: ${problems.slice(0, 3).join('; ')}`);
    }
    const appId = ro.pragma('application_id', { simple: true }) as number;
    const version = ro.pragma('user_version', { simple: true }) as number;
    if (appId !== 0 && appId !== APPLICATION_ID) {
      throw new StoreOpenError('corrupt', file, `it is a SQLite database of another application (application_id 0x${(appId >>> 0).toString(16)})`);
    }
    if (appId === 0 && version === 0) {
      const tables = ro.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'").get() as { n: number };
      if (tables.n > 0) throw new StoreOpenError('corrupt', file, 'it is a SQLite database with tables but no Switchboard schema');
    }
    if (version > LATEST_SCHEMA_VERSION) {
      throw new StoreOpenError('newer-schema', file, `schema version ${version}; this version knows up to ${LATEST_SCHEMA_VERSION}`);
    }
  } catch (err) {
    throw err instanceof StoreOpenError ? err : classify(err, file, 'read');
  } finally {
    ro.close();
  }
}

function ensureWritable(dir: string, file: string, exists: boolean): void {
  try {
    // SQLite creates the -wal file (and a new database) beside the database file.
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new StoreOpenError('unwritable', file, `its directory ${dir} is not writable: ${errorDetail(err)}`, err);
  }
  if (!exists) return;
  try {
    accessSync(file, constants.W_OK);
  } catch (err) {
    throw new StoreOpenError('unwritable', file, `the file is read-only: ${errorDetail(err)}`, err);
  }
}

/** undefined when `path` does not exist; ENOTDIR (a parent is a file), EACCES... stop us. */
function statOrUndefined(path: string, file: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
    if (path === file) throw new StoreOpenError('unreadable', file, errorDetail(err), err);
    throw new StoreOpenError('unwritable', file, `cannot use its directory ${path}: ${errorDetail(err)}`, err);
  }
}
