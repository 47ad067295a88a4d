-- Shiftbook terminal store, schema version 1.
-- The events table is the truth; every other table except meta, reference data, leaders,
-- pin_attempts and session is derived from the events and could be rebuilt from them.

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value BLOB NOT NULL
) WITHOUT ROWID;

-- Every event this terminal holds, as its canonical bytes (docs/EVENTS.md). The other columns
-- are copies of fields inside `raw`, kept for lookups; verify checks that they agree.
CREATE TABLE events (
  device      BLOB NOT NULL,
  seq         INTEGER NOT NULL,
  hlc         INTEGER NOT NULL,
  author      TEXT NOT NULL,
  kind        TEXT NOT NULL,
  hash        BLOB NOT NULL UNIQUE,
  raw         BLOB NOT NULL,
  recorded_ms INTEGER NOT NULL,  -- this terminal's wall clock when stored (not signed)
  PRIMARY KEY (device, seq)
);

-- The latest signed chain head of each device.
CREATE TABLE heads (
  device    BLOB PRIMARY KEY,
  seq       INTEGER NOT NULL,
  hash      BLOB NOT NULL,
  signature BLOB NOT NULL
) WITHOUT ROWID;

-- Reference data from head office (ref import now, sync later).
CREATE TABLE sites    (id TEXT PRIMARY KEY, name TEXT NOT NULL, tz TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE units    (id TEXT PRIMARY KEY, site TEXT NOT NULL, name TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE periods  (id TEXT PRIMARY KEY, start_day INTEGER NOT NULL, end_day INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE products (id TEXT PRIMARY KEY, name TEXT NOT NULL, unit_name TEXT NOT NULL,
                       decimals INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE workers  (id TEXT PRIMARY KEY, site TEXT NOT NULL, name TEXT NOT NULL,
                       pin_hash TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE quotas   (unit TEXT NOT NULL, period TEXT NOT NULL, product TEXT NOT NULL,
                       quantity INTEGER NOT NULL, version INTEGER NOT NULL,
                       PRIMARY KEY (unit, period, product)) WITHOUT ROWID;

-- Shift leaders of this terminal, and failed PIN attempts of leaders and workers.
CREATE TABLE leaders (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  pin_hash   TEXT NOT NULL,
  added_ms   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE pin_attempts (
  subject         TEXT PRIMARY KEY,   -- 'leader:ID' or 'worker:ID'
  failures        INTEGER NOT NULL,
  locked_until_ms INTEGER NOT NULL
) WITHOUT ROWID;
-- At most one leader is logged in on a terminal at a time.
CREATE TABLE session (
  one          INTEGER PRIMARY KEY CHECK (one = 1),
  leader       TEXT NOT NULL,
  started_ms   INTEGER NOT NULL,
  last_ms      INTEGER NOT NULL,
  idle_minutes INTEGER NOT NULL
);

-- Derived: shifts, by the hash of their shift_open event.
CREATE TABLE shifts (
  id        BLOB PRIMARY KEY,
  device    BLOB NOT NULL,
  seq       INTEGER NOT NULL,
  unit      TEXT NOT NULL,
  day       INTEGER NOT NULL,     -- shift date, days since 1970-01-01
  name      TEXT,
  opened_by TEXT NOT NULL,
  closed_seq INTEGER,             -- seq of the shift_close, NULL while open
  closed_by TEXT
);
CREATE INDEX shifts_open ON shifts (device, closed_seq);

-- Derived: the current state of every entry (hours, output, bonus, confirm), by the hash of the
-- event that first recorded it. `head` is the hash of its current version.
CREATE TABLE entries (
  id        BLOB PRIMARY KEY,
  device    BLOB NOT NULL,
  seq       INTEGER NOT NULL,
  kind      TEXT NOT NULL,
  head      BLOB NOT NULL,
  head_seq  INTEGER NOT NULL,
  versions  INTEGER NOT NULL,     -- 1 + corrections
  void      INTEGER NOT NULL DEFAULT 0,
  shift     BLOB NOT NULL,
  worker    TEXT,
  day       INTEGER NOT NULL,
  start_abs INTEGER,              -- hours: minutes since 1970-01-01 00:00 of the site's time zone
  end_abs   INTEGER,
  special   INTEGER,
  product   TEXT,
  quantity  INTEGER,
  bonus_type TEXT,
  confirms  BLOB,                 -- confirm: the hours version it confirms
  body      BLOB NOT NULL         -- canonical body of the current version
);
CREATE UNIQUE INDEX entries_by_device_seq ON entries (device, seq);
CREATE INDEX entries_worker_time ON entries (worker, start_abs);
CREATE INDEX entries_shift ON entries (shift);
CREATE INDEX entries_confirms ON entries (confirms) WHERE confirms IS NOT NULL;

-- Derived: every version hash (originals, corrections, voids) and the entry it belongs to.
CREATE TABLE versions (
  hash   BLOB PRIMARY KEY,
  entry  BLOB NOT NULL,
  device BLOB NOT NULL,
  seq    INTEGER NOT NULL,
  kind   TEXT NOT NULL,            -- the event kind: hours/output/bonus/confirm/correction/void
  supersedes BLOB                 -- the version a correction or void names
) WITHOUT ROWID;
CREATE INDEX versions_entry ON versions (entry);
