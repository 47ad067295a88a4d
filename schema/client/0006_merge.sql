-- Shiftbook terminal store, schema version 6: the merge rules (docs/MERGE.md).
-- Corrections and voids of one version made on several terminals (forks) are now all applied:
-- the entry shows the winning branch, the losing ones stay in the versions table, and every fork is
-- a row of `conflicts`. Head office's `resolution` events (from the site signer) are indexed by the
-- fork they decide. The winner at a fork is chosen by the trusted after time of each child: the
-- server-signed time of the receipt named by its device's latest shift_open at or before it, kept
-- per shift (`receipt_ms`) and per version (`after_ms`).
-- All of it is derived: after this migration the store replays its events (store.cpp), which also
-- applies the corrections of other terminals that version 5 kept in the log unapplied.

ALTER TABLE shifts ADD COLUMN receipt_ms INTEGER;     -- server_ms of the receipt its shift_open names; NULL: none
CREATE INDEX shifts_by_device_seq ON shifts (device, seq);

ALTER TABLE versions ADD COLUMN after_ms INTEGER;     -- trusted after time (MERGE.md section 3); NULL: none
-- output: the quota version it was logged against (kept by every correction), for the stale_quota
-- anomaly (docs/ANOMALIES.md); NULL for other kinds and output logged without one.
ALTER TABLE entries ADD COLUMN quota_version INTEGER;

-- The site signer's resolutions, by the fork they decide.
CREATE TABLE resolutions (
  arrival INTEGER PRIMARY KEY,   -- events.arrival of the resolution event
  fork    BLOB NOT NULL,         -- the version with several children
  device  BLOB NOT NULL,         -- the signer
  seq     INTEGER NOT NULL       -- its seq in the signer's chain: the highest decides
);
CREATE INDEX resolutions_fork ON resolutions (fork);

-- Every fork of every entry the terminal holds (MERGE.md section 4), rewritten whenever the entry's
-- version tree or the resolutions of its forks change.
CREATE TABLE conflicts (
  entry_arrival INTEGER NOT NULL,   -- entries.arrival
  fork          BLOB NOT NULL,      -- the version with several children
  device        BLOB NOT NULL,      -- the fork version's device and seq
  seq           INTEGER NOT NULL,
  children      INTEGER NOT NULL,   -- how many children the terminal holds
  winner        BLOB NOT NULL,
  resolution    BLOB,               -- the deciding resolution event; NULL when the rule chose
  resolved      INTEGER NOT NULL,   -- 1: the resolution names every child
  on_path       INTEGER NOT NULL,   -- 1: the fork is on the entry's winning path
  PRIMARY KEY (entry_arrival, fork)
) WITHOUT ROWID;
CREATE INDEX conflicts_open ON conflicts (resolved);

-- Head office's decisions of anomalies (docs/ANOMALIES.md): the site signer's `anomaly_note`
-- events, by the anomaly's identifier; the latest (highest seq) is the decision shown.
CREATE TABLE anomaly_notes (
  arrival INTEGER PRIMARY KEY,   -- events.arrival of the anomaly_note event
  anomaly TEXT NOT NULL,         -- the anomaly's identifier, kind:32 hex digits
  reason  TEXT NOT NULL,
  device  BLOB NOT NULL,         -- the signer
  seq     INTEGER NOT NULL
);
CREATE INDEX anomaly_notes_by_id ON anomaly_notes (anomaly, seq);
