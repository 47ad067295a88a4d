-- Shiftbook terminal store, schema version 5: entries and versions keyed by arrival.
-- An entry is numbered by the arrival of the event that first recorded it, a version by the
-- arrival of its own event (events.arrival, the order this terminal stored them in), so a pulled
-- event's rows are appended where the last ones went. Keyed by hash, every pulled event landed on
-- a random page of three more b-trees (entries.id, versions.hash, versions.entry), which outgrow
-- the page cache past about 100,000 events: then each commit wrote most of their pages again.
-- Only events.hash stays an index in hash order; a lookup by hash goes through it to the arrival
-- (`arrival = (SELECT arrival FROM events WHERE hash = ?)`). The hashes stay columns, for readers.
-- The rows are carried over as they were, numbered by their events.

CREATE TABLE entries_v5 (
  arrival   INTEGER PRIMARY KEY,  -- events.arrival of the event that first recorded it
  id        BLOB NOT NULL,        -- the hash of that event
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
INSERT INTO entries_v5(arrival, id, device, seq, kind, head, head_seq, versions, void, shift, worker, day,
                       start_abs, end_abs, special, product, quantity, bonus_type, confirms, body)
  SELECT ev.arrival, e.id, e.device, e.seq, e.kind, e.head, e.head_seq, e.versions, e.void, e.shift, e.worker,
         e.day, e.start_abs, e.end_abs, e.special, e.product, e.quantity, e.bonus_type, e.confirms, e.body
  FROM entries e JOIN events ev ON ev.hash = e.id ORDER BY ev.arrival;
DROP TABLE entries;
ALTER TABLE entries_v5 RENAME TO entries;
CREATE UNIQUE INDEX entries_by_device_seq ON entries (device, seq);
CREATE INDEX entries_worker_time ON entries (worker, start_abs);
CREATE INDEX entries_shift ON entries (shift);
CREATE INDEX entries_confirms ON entries (confirms) WHERE confirms IS NOT NULL;

-- Every version (originals, corrections, voids) and the entry it belongs to, by both numbers and
-- both hashes. A version may be superseded by several others (forks, for the merge rules): nothing
-- here is unique but the version itself.
CREATE TABLE versions_v5 (
  arrival       INTEGER PRIMARY KEY,  -- events.arrival of the version's event
  hash          BLOB NOT NULL,
  entry_arrival INTEGER NOT NULL,     -- the entry's arrival (entries.arrival)
  entry         BLOB NOT NULL,        -- the entry's id (entries.id)
  device        BLOB NOT NULL,
  seq           INTEGER NOT NULL,
  kind          TEXT NOT NULL,        -- the event kind: hours/output/bonus/confirm/correction/void
  supersedes    BLOB                  -- the version a correction or void names
);
INSERT INTO versions_v5(arrival, hash, entry_arrival, entry, device, seq, kind, supersedes)
  SELECT ev.arrival, v.hash, en.arrival, v.entry, v.device, v.seq, v.kind, v.supersedes
  FROM versions v JOIN events ev ON ev.hash = v.hash JOIN events en ON en.hash = v.entry ORDER BY ev.arrival;
DROP TABLE versions;
ALTER TABLE versions_v5 RENAME TO versions;
CREATE INDEX versions_entry ON versions (entry_arrival);
