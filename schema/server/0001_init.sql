-- Shiftbook head-office store, schema version 1.
-- The events table is the truth, stored whole and never changed; chains, heads, receipts and
-- reference are kept up to date in the same transaction as every append (server/src/storage.h).

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value BLOB NOT NULL
) WITHOUT ROWID;

-- Enrolled terminals and the production units each may record for.
CREATE TABLE devices (
  key            BLOB PRIMARY KEY,           -- Ed25519 public key (32 bytes)
  site           TEXT NOT NULL,
  enrolled_ms    INTEGER NOT NULL,
  flag           TEXT NOT NULL DEFAULT '',   -- why the device is flagged; empty when it is not
  flagged_ms     INTEGER NOT NULL DEFAULT 0,
  last_sync_ms   INTEGER NOT NULL DEFAULT 0, -- server time of its last sync
  last_client_ms INTEGER NOT NULL DEFAULT 0  -- the terminal's own clock, as it said then
) WITHOUT ROWID;

CREATE TABLE device_units (
  device BLOB NOT NULL REFERENCES devices(key),
  unit   TEXT NOT NULL,
  PRIMARY KEY (unit, device)
) WITHOUT ROWID;
CREATE INDEX device_units_by_device ON device_units(device);

-- Enrollment codes: only a hash of the secret is kept.
CREATE TABLE codes (
  secret_hash BLOB PRIMARY KEY,              -- BLAKE2b-256 of the 8-byte secret
  site        TEXT NOT NULL,
  units       BLOB NOT NULL,                 -- canonical list of unit ids (canonical.h)
  created_ms  INTEGER NOT NULL,
  expires_ms  INTEGER NOT NULL,
  used_ms     INTEGER NOT NULL DEFAULT 0,    -- 0 while unused
  used_by     BLOB                           -- the device that redeemed it
) WITHOUT ROWID;

-- Every chain held, of terminals and of site signers: a small number for the device (so that
-- events and their indexes do not repeat its 32-byte key), and where the chain ends.
CREATE TABLE chains (
  id     INTEGER PRIMARY KEY,
  device BLOB NOT NULL UNIQUE,
  seq    INTEGER NOT NULL,              -- 0 until the first append commits
  hash   BLOB NOT NULL,
  hlc    INTEGER NOT NULL
);

-- Every event held, as its canonical bytes (docs/EVENTS.md). pos is the position in commit
-- order: appends are serialized, each gives its events the positions after the last one, and
-- events are never deleted. hash_key is the hash's first 8 bytes as a signed big-endian
-- integer, the key of hash_index.
CREATE TABLE events (
  pos         INTEGER PRIMARY KEY,
  chain       INTEGER NOT NULL,         -- chains.id
  seq         INTEGER NOT NULL,
  hash        BLOB NOT NULL,
  hash_key    INTEGER NOT NULL,
  hlc         INTEGER NOT NULL,
  kind        TEXT NOT NULL,
  unit        TEXT NOT NULL,            -- empty for head-office events
  site        TEXT NOT NULL,
  raw         BLOB NOT NULL,
  received_ms INTEGER NOT NULL,
  UNIQUE (chain, seq)
);

-- Events by hash, for the events up to position meta 'hash_indexed_upto'; the server keeps the
-- later ones in memory and adds them here in large sorted batches. (An index on events.hash
-- would be written all over at every append, hashes being random: with appends of a few
-- thousand events that is a page per event.)
CREATE TABLE hash_index (
  hash_key INTEGER NOT NULL,
  pos      INTEGER NOT NULL,
  PRIMARY KEY (hash_key, pos)
) WITHOUT ROWID;

-- One row per append: the head the device signed at its last event, and where its events are
-- (positions first_pos..last_pos, `bytes` bytes of raw events). A pull walks these in position
-- order, so it reads one small row per push and then exactly the events it returns.
CREATE TABLE heads (
  last_pos  INTEGER PRIMARY KEY,
  first_pos INTEGER NOT NULL,
  chain     INTEGER NOT NULL,           -- chains.id
  seq       INTEGER NOT NULL,
  hash      BLOB NOT NULL,
  signature BLOB NOT NULL,
  bytes     INTEGER NOT NULL
);

-- The latest receipt given to each device.
CREATE TABLE receipts (
  device    BLOB PRIMARY KEY,
  seq       INTEGER NOT NULL,
  hash      BLOB NOT NULL,
  server_ms INTEGER NOT NULL,
  signature BLOB NOT NULL
) WITHOUT ROWID;

-- The current value of each head-office reference item: the body (canonical bytes) of the last
-- appended ref_* event with that key.
CREATE TABLE reference (
  kind    TEXT NOT NULL,
  ref_key TEXT NOT NULL,
  site    TEXT NOT NULL,
  body    BLOB NOT NULL,
  PRIMARY KEY (kind, ref_key)
) WITHOUT ROWID;
