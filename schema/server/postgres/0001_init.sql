-- Shiftbook head-office store on PostgreSQL, schema version 1 (mirrors ../0001_init.sql; the
-- differences and their reasons are in docs/POSTGRES.md). The events table is the truth, stored
-- whole and never changed; chains, heads, receipts and reference are kept up to date in the same
-- transaction as every append (server/src/storage.h).

CREATE TABLE schema_version (
  one     BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
  version INTEGER NOT NULL
);
INSERT INTO schema_version(version) VALUES (0);

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value BYTEA NOT NULL
);

-- The position counter: the last position given to an event. An append takes its positions with
-- UPDATE positions SET last_pos = last_pos + n RETURNING last_pos, whose row lock, held to its
-- commit, makes position order commit order (docs/POSTGRES.md, "Positions").
CREATE TABLE positions (
  one      BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
  last_pos BIGINT NOT NULL
);
INSERT INTO positions(last_pos) VALUES (0);

-- Enrolled terminals and the production units each may record for.
CREATE TABLE devices (
  key            BYTEA PRIMARY KEY,          -- Ed25519 public key (32 bytes)
  site           TEXT NOT NULL,
  enrolled_ms    BIGINT NOT NULL,
  flag           TEXT NOT NULL DEFAULT '',   -- why the device is flagged; empty when it is not
  flagged_ms     BIGINT NOT NULL DEFAULT 0,
  last_sync_ms   BIGINT NOT NULL DEFAULT 0,  -- server time of its last sync
  last_client_ms BIGINT NOT NULL DEFAULT 0   -- the terminal's own clock, as it said then
);
CREATE INDEX devices_by_site ON devices (site);

CREATE TABLE device_units (
  device BYTEA NOT NULL REFERENCES devices(key),
  unit   TEXT NOT NULL,
  PRIMARY KEY (unit, device)
);
CREATE INDEX device_units_by_device ON device_units (device);

-- Enrollment codes: only a hash of the secret is kept.
CREATE TABLE codes (
  secret_hash BYTEA PRIMARY KEY,             -- BLAKE2b-256 of the 8-byte secret
  site        TEXT NOT NULL,
  units       BYTEA NOT NULL,                -- canonical list of unit ids (canonical.h)
  created_ms  BIGINT NOT NULL,
  expires_ms  BIGINT NOT NULL,
  used_ms     BIGINT NOT NULL DEFAULT 0,     -- 0 while unused
  used_by     BYTEA                          -- the device that redeemed it
);

-- Every chain held, of terminals and of site signers, and where it ends.
CREATE TABLE chains (
  id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  device BYTEA NOT NULL UNIQUE,
  seq    BIGINT NOT NULL,               -- 0 until the first append commits
  hash   BYTEA NOT NULL,
  hlc    BIGINT NOT NULL
);

-- Every event held, as its canonical bytes (docs/EVENTS.md), at its position (see positions).
-- hash_key is the hash's first 8 bytes as a signed big-endian integer: the key events are found
-- by (a lookup compares the whole hash).
CREATE TABLE events (
  pos         BIGINT PRIMARY KEY,
  chain       BIGINT NOT NULL,          -- chains.id
  seq         BIGINT NOT NULL,
  hash        BYTEA NOT NULL,
  hash_key    BIGINT NOT NULL,
  hlc         BIGINT NOT NULL,
  kind        TEXT NOT NULL,
  unit        TEXT NOT NULL,            -- empty for head-office events
  site        TEXT NOT NULL,
  raw         BYTEA NOT NULL,
  received_ms BIGINT NOT NULL,
  UNIQUE (chain, seq)
);
CREATE INDEX events_by_hash_key ON events (hash_key);

-- One row per append: the head the device signed at its last event, and where its events are
-- (positions first_pos..last_pos, `bytes` bytes of raw events). A pull walks these in position
-- order.
CREATE TABLE heads (
  last_pos  BIGINT PRIMARY KEY,
  first_pos BIGINT NOT NULL,
  chain     BIGINT NOT NULL,            -- chains.id
  seq       BIGINT NOT NULL,
  hash      BYTEA NOT NULL,
  signature BYTEA NOT NULL,
  bytes     BIGINT NOT NULL
);
CREATE INDEX heads_by_chain ON heads (chain, last_pos);

-- The latest receipt given to each device.
CREATE TABLE receipts (
  device    BYTEA PRIMARY KEY,
  seq       BIGINT NOT NULL,
  hash      BYTEA NOT NULL,
  server_ms BIGINT NOT NULL,
  signature BYTEA NOT NULL
);

-- The current value of each head-office reference item: the body (canonical bytes) of the last
-- appended ref_* event with that key.
CREATE TABLE reference (
  kind    TEXT NOT NULL,
  ref_key TEXT NOT NULL,
  site    TEXT NOT NULL,
  body    BYTEA NOT NULL,
  PRIMARY KEY (kind, ref_key)
);
