/**
 * The SQLite store's schema: its versions as forward migrations, and the checks made when a
 * file is opened (our file, a newer version, a foreign database).
 *
 * The file is marked with `PRAGMA application_id` = {@link APPLICATION_ID} and its schema version
 * is `PRAGMA user_version`. Version N is reached by running `MIGRATIONS[0..N-1]` in order, each in
 * its own transaction together with the new `user_version`, so a crash mid-upgrade leaves the
 * file at the previous version. A file from a newer mailpush (a higher version) is refused,
 * never downgraded.
 *
 * @module
 * @internal
 */

/** `PRAGMA application_id` of a mailpush store: 'MPSH'. */
export const APPLICATION_ID = 0x4d505348;

/**
 * Forward migrations: `MIGRATIONS[i]` takes the schema from version i to i + 1. Append only;
 * never edit a released entry.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: the queue journal, suppression list, idempotency keys, soft bounces, correlation, replay ids.
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

  -- One row per message; seq gives the insertion order of page() and recover().
  -- finished_at is set when the last job goes; the row then keeps only what status() needs
  -- until the result retention ends.
  CREATE TABLE messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    message_id TEXT NOT NULL,
    body TEXT,
    bytes BLOB,
    finished_at INTEGER
  );
  CREATE INDEX messages_open ON messages (seq) WHERE finished_at IS NULL;
  CREATE INDEX messages_finished ON messages (finished_at) WHERE finished_at IS NOT NULL;

  -- Keyed by message first: jobs are written and read where the message's seq puts them, near
  -- the other recent jobs, rather than at random places of a job-id index.
  CREATE TABLE jobs (
    msg_seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (msg_seq, id)
  ) WITHOUT ROWID;

  CREATE TABLE results (
    msg_seq INTEGER NOT NULL,
    data TEXT NOT NULL
  );
  CREATE INDEX results_message ON results (msg_seq);

  -- target: 'a:<address>' or 'd:<domain>', lower case; scope '' = all mail.
  CREATE TABLE suppression (
    target TEXT NOT NULL,
    scope TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (target, scope)
  ) WITHOUT ROWID;

  CREATE TABLE idempotency (
    key TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX idempotency_expiry ON idempotency (expires_at);

  CREATE TABLE soft_bounces (
    address TEXT NOT NULL,
    id TEXT NOT NULL,
    at INTEGER NOT NULL,
    UNIQUE (address, id)
  );
  CREATE INDEX soft_bounces_at ON soft_bounces (at);

  CREATE TABLE correlation (
    job_id TEXT PRIMARY KEY,
    sent_at INTEGER NOT NULL,
    data TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX correlation_sent ON correlation (sent_at);

  CREATE TABLE replay (
    key TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX replay_expiry ON replay (expires_at);
  `,
  // 2: per-campaign state and counters (sendMany campaigns).
  `
  CREATE TABLE campaigns (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    reason TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE campaign_counts (
    campaign TEXT NOT NULL,
    name TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (campaign, name)
  ) WITHOUT ROWID;
  `,
  // 3: lists, subscriptions and consent (mailpush/unsubscribe). data: the Subscription as JSON;
  // subscribed: 1 while it is, for the partial index that pages a list's members.
  `
  CREATE TABLE subscriptions (
    list TEXT NOT NULL,
    address TEXT NOT NULL,
    subscribed INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (list, address)
  ) WITHOUT ROWID;
  CREATE INDEX subscriptions_address ON subscriptions (address);
  CREATE INDEX subscriptions_members ON subscriptions (list, address) WHERE subscribed = 1;
  `,
  // 4: no index of open messages: page() and recover() find them through the jobs table's key.
  // Keeping the index cost every message two page writes (at add and at finish).
  `
  DROP INDEX IF EXISTS messages_open;
  `,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** What the opened file is. */
export type FileKind =
  | { readonly kind: 'new' }
  | { readonly kind: 'ours'; readonly version: number }
  | { readonly kind: 'newer'; readonly version: number }
  | { readonly kind: 'foreign'; readonly applicationId: number; readonly version: number; readonly tables: readonly string[] };

/** Classifies a file from its application id, user_version and table names. */
export function classifyFile(applicationId: number, version: number, tables: readonly string[]): FileKind {
  if (applicationId === APPLICATION_ID) {
    return version > SCHEMA_VERSION ? { kind: 'newer', version } : { kind: 'ours', version };
  }
  if (applicationId === 0 && version === 0 && tables.length === 0) return { kind: 'new' };
  return { kind: 'foreign', applicationId, version, tables };
}
