-- Shiftbook terminal store, schema version 2: sync with head office.
-- The enrollment (one row once the terminal is enrolled) pins the server's key and holds the
-- terminal's scope, the site signer's delegation, the pull cursor and the last verified receipt.
-- Events gain `arrival`, the order this terminal stored them in: the derived tables are the
-- events replayed in that order (a pulled correction may name another terminal's entry, which
-- arrived before it, whatever the order of the two devices' keys).

CREATE TABLE enrollment (
  one          INTEGER PRIMARY KEY CHECK (one = 1),
  server_url   TEXT NOT NULL,
  server_key   BLOB NOT NULL,      -- Ed25519, pinned: nothing that does not open with it is accepted
  site         TEXT NOT NULL,
  signer       BLOB NOT NULL,      -- the site's head-office signer (Ed25519)
  signer_sig   BLOB NOT NULL,      -- the server key's delegation of it (protocol.h, Delegation)
  enrolled_ms  INTEGER NOT NULL,   -- this terminal's clock at enrollment
  server_enrolled_ms INTEGER NOT NULL,  -- the server's clock at enrollment
  cursor       INTEGER NOT NULL DEFAULT 0,  -- server position of the last event pulled
  last_sync_ms INTEGER NOT NULL DEFAULT 0,  -- this terminal's clock at the last completed round trip
  -- The last receipt, verified with server_key before it was stored: what the server durably
  -- holds of this device's chain. receipt_seq 0 means nothing yet.
  receipt_seq       INTEGER NOT NULL DEFAULT 0,
  receipt_hash      BLOB,
  receipt_server_ms INTEGER NOT NULL DEFAULT 0,
  receipt_sig       BLOB
);

-- The production units the terminal is enrolled for.
CREATE TABLE enrolled_units (unit TEXT PRIMARY KEY) WITHOUT ROWID;

-- Events gain `arrival`, the order this terminal stored them in, as the table's rowid (INTEGER
-- PRIMARY KEY): a row stored without a number (by another program) is numbered after every other
-- by SQLite itself, so the order stays total. No trigger does it, as any trigger on events would
-- make SQLite keep a statement journal for every insert, which pulling many events pays dearly
-- for. (device, seq) stays unique, as the key it was.
CREATE TABLE events_v2 (
  device      BLOB NOT NULL,
  seq         INTEGER NOT NULL,
  hlc         INTEGER NOT NULL,
  author      TEXT NOT NULL,
  kind        TEXT NOT NULL,
  hash        BLOB NOT NULL UNIQUE,
  raw         BLOB NOT NULL,
  recorded_ms INTEGER NOT NULL,  -- this terminal's wall clock when stored (not signed)
  arrival     INTEGER PRIMARY KEY,
  UNIQUE (device, seq)
);
-- Before sync a terminal held only its own events, replayed in (device, seq) order.
INSERT INTO events_v2(device, seq, hlc, author, kind, hash, raw, recorded_ms)
  SELECT device, seq, hlc, author, kind, hash, raw, recorded_ms FROM events ORDER BY device, seq;
DROP TABLE events;
ALTER TABLE events_v2 RENAME TO events;

-- Versions become a rowid table: a row is appended where the next one goes, and only the lookups
-- by hash and by entry are b-trees in hash order. Keyed by hash (WITHOUT ROWID), every new version
-- landed on a random page of the table's widest b-tree, and a sync that pulls many events wrote
-- most of the table again at each commit.
CREATE TABLE versions_v2 (
  hash   BLOB PRIMARY KEY,
  entry  BLOB NOT NULL,
  device BLOB NOT NULL,
  seq    INTEGER NOT NULL,
  kind   TEXT NOT NULL,            -- the event kind: hours/output/bonus/confirm/correction/void
  supersedes BLOB                 -- the version a correction or void names
);
INSERT INTO versions_v2(hash, entry, device, seq, kind, supersedes)
  SELECT hash, entry, device, seq, kind, supersedes FROM versions ORDER BY device, seq;
DROP TABLE versions;
ALTER TABLE versions_v2 RENAME TO versions;
CREATE INDEX versions_entry ON versions (entry);
