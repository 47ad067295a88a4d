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

ALTER TABLE events ADD COLUMN arrival INTEGER;
-- Before sync a terminal held only its own events, replayed in (device, seq) order.
UPDATE events SET arrival = r.n
  FROM (SELECT rowid AS id, row_number() OVER (ORDER BY device, seq) AS n FROM events) AS r
  WHERE events.rowid = r.id;
CREATE UNIQUE INDEX events_arrival ON events (arrival);
-- The store numbers the events it stores itself; a row written without a number (by another
-- program) is numbered after every other, so the order stays total.
CREATE TRIGGER events_number_arrival AFTER INSERT ON events WHEN NEW.arrival IS NULL
BEGIN
  UPDATE events SET arrival = (SELECT coalesce(max(arrival), 0) + 1 FROM events) WHERE rowid = NEW.rowid;
END;
