// The SQLite schema as numbered migrations. MIGRATIONS[i] takes the database from version i to
// i + 1; the version lives in `PRAGMA user_version` and is bumped in the same transaction as the
// migration, so a crash leaves either the old or the new schema. Never edit a released migration:
// append a new one.
//
// Every table is keyed by what the broker names a row with, so each change is one primary-key
// look-up: (client_id, seq) for the queue, (client_id, packet_id) for in-flight and inbound QoS 2,
// (client_id, filter) for subscriptions, id for a stored message (version 3); deleting a session
// is a prefix range per table. There are no foreign keys on purpose: a batch must never fail on a
// row order the broker chose, and orphans (children without a session row, messages no row names,
// rows naming no message) are ignored by loadSessions and removed at open.
import type Database from 'better-sqlite3';

/** 'SwBd': marks the file as a Switchboard store ([PRAGMA application_id]). */
export const APPLICATION_ID = 0x53774264;

// properties: JSON (sqlite-codec.ts), NULL for none; expires_at: epoch ms, 0 = never;
// subscription_ids: JSON array or NULL. (No SQL comments inside: these are spliced into lists.)
const MESSAGE = `
  topic TEXT NOT NULL,
  payload BLOB NOT NULL,
  message_qos INTEGER NOT NULL,
  message_retain INTEGER NOT NULL,
  properties TEXT,
  expires_at INTEGER NOT NULL,
  publisher_id TEXT,
  received_at INTEGER NOT NULL DEFAULT 0`;

const DELIVERY = `${MESSAGE},
  qos INTEGER NOT NULL,
  retain INTEGER NOT NULL,
  subscription_ids TEXT`;

export const MIGRATIONS: readonly string[] = [
  // 1: everything.
  `
  CREATE TABLE retained (
    ${MESSAGE},
    PRIMARY KEY (topic)
  );
  CREATE TABLE sessions (
    client_id TEXT PRIMARY KEY,
    protocol_version INTEGER NOT NULL,
    expiry_seconds INTEGER NOT NULL,
    disconnected_at INTEGER      -- epoch ms; NULL while connected
  );
  CREATE TABLE subscriptions (
    client_id TEXT NOT NULL,
    filter TEXT NOT NULL,
    qos INTEGER NOT NULL,
    no_local INTEGER NOT NULL,
    retain_as_published INTEGER NOT NULL,
    retain_handling INTEGER NOT NULL,
    subscription_id INTEGER,
    PRIMARY KEY (client_id, filter)
  );
  CREATE TABLE queued (
    client_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ${DELIVERY},
    PRIMARY KEY (client_id, seq)
  );
  CREATE TABLE inflight (
    client_id TEXT NOT NULL,
    packet_id INTEGER NOT NULL,
    ord INTEGER NOT NULL,        -- send order, kept when the entry moves to pubrel
    state TEXT NOT NULL,         -- 'publish' | 'pubrel'
    ${DELIVERY},
    PRIMARY KEY (client_id, packet_id)
  );
  CREATE TABLE inbound_qos2 (
    client_id TEXT NOT NULL,
    packet_id INTEGER NOT NULL,
    PRIMARY KEY (client_id, packet_id)
  ) WITHOUT ROWID;
  CREATE TABLE authorizers (
    name TEXT PRIMARY KEY,
    record TEXT NOT NULL         -- AuthorizerRecord as JSON
  );
  CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY,
    record TEXT NOT NULL         -- AccessKeyRecord as JSON (secret sealed)
  );
  CREATE TABLE rules (
    name TEXT PRIMARY KEY,
    record TEXT NOT NULL         -- StoredRule as JSON
  );
  CREATE TABLE settings (
    key TEXT PRIMARY KEY,        -- 'default_authorizer'
    value TEXT NOT NULL
  );
  PRAGMA application_id = ${APPLICATION_ID};
  `,
  // 2: per-topic history (history-sqlite.ts). Rows are keyed by their history id; marks hold, per
  // topic and origin, the highest sequence trimmed; the floor, per origin, what forgotten topics
  // took with them. The origin and the sequence reserved so far live in settings.
  `
  CREATE TABLE history (
    origin TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ${MESSAGE},
    PRIMARY KEY (origin, seq)
  );
  CREATE TABLE history_marks (
    topic TEXT NOT NULL,
    origin TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (topic, origin)
  ) WITHOUT ROWID;
  CREATE TABLE history_floor (
    origin TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // 3: a QoS 1/2 message delivered to many persistent sessions is stored once. `messages` holds
  // each message (its id: an integer the store hands out, never reused while referenced); queued
  // and in-flight rows name it by message_id and keep only how it is sent to that session. Both
  // are WITHOUT ROWID tables keyed as the broker names them. No index on message_id: the store
  // counts references in memory (session-sqlite.ts), and the one query that needs it (orphans,
  // at open) builds its own. Rows of version 2 become one message each (ids from their rowid, even
  // for queued, odd for in-flight, so the two never collide). The column lists are written out:
  // a released migration must not change with the constants the code uses today.
  `
  CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    message_qos INTEGER NOT NULL,
    message_retain INTEGER NOT NULL,
    properties TEXT,
    expires_at INTEGER NOT NULL,
    publisher_id TEXT,
    received_at INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE queued_v3 (
    client_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    subscription_ids TEXT,
    PRIMARY KEY (client_id, seq)
  ) WITHOUT ROWID;
  CREATE TABLE inflight_v3 (
    client_id TEXT NOT NULL,
    packet_id INTEGER NOT NULL,
    ord INTEGER NOT NULL,
    state TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    subscription_ids TEXT,
    PRIMARY KEY (client_id, packet_id)
  ) WITHOUT ROWID;
  INSERT INTO messages (id, topic, payload, message_qos, message_retain, properties, expires_at, publisher_id, received_at)
    SELECT rowid * 2, topic, payload, message_qos, message_retain, properties, expires_at, publisher_id, received_at FROM queued;
  INSERT INTO queued_v3 (client_id, seq, message_id, qos, retain, subscription_ids)
    SELECT client_id, seq, rowid * 2, qos, retain, subscription_ids FROM queued;
  INSERT INTO messages (id, topic, payload, message_qos, message_retain, properties, expires_at, publisher_id, received_at)
    SELECT rowid * 2 + 1, topic, payload, message_qos, message_retain, properties, expires_at, publisher_id, received_at FROM inflight;
  INSERT INTO inflight_v3 (client_id, packet_id, ord, state, message_id, qos, retain, subscription_ids)
    SELECT client_id, packet_id, ord, state, rowid * 2 + 1, qos, retain, subscription_ids FROM inflight;
  DROP TABLE queued;
  DROP TABLE inflight;
  ALTER TABLE queued_v3 RENAME TO queued;
  ALTER TABLE inflight_v3 RENAME TO inflight;
  `,
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS.length;

/** Applies the missing migrations, each in its own transaction. Returns the versions applied. */
export function migrate(db: Database.Database): number[] {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > LATEST_SCHEMA_VERSION) {
    // sqlite-open.ts checks this before opening read-write; kept as a guard.
    throw new Error(`schema version ${current} is newer than ${LATEST_SCHEMA_VERSION}`);
  }
  const applied: number[] = [];
  for (let version = current + 1; version <= LATEST_SCHEMA_VERSION; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version - 1]!);
      db.pragma(`user_version = ${version}`);
    })();
    applied.push(version);
  }
  return applied;
}
