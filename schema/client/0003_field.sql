-- Shiftbook terminal store, schema version 3: sync in the field.
-- The enrollment keeps head office's revocation of this terminal, once a notice signed by the
-- pinned server key said so (protocol.h, RevocationNotice): its time, reason and signature, so
-- that the terminal can show, and anyone re-check, why it holds only its own events.
-- sync_health is local state, not derived from the events: what the last sync attempts came to,
-- written by every `shiftbook sync` (and every attempt of `sync --watch`) for `status`.

ALTER TABLE enrollment ADD COLUMN revoked_ms INTEGER;   -- head office's clock; NULL while not revoked
ALTER TABLE enrollment ADD COLUMN revoked_reason TEXT;
ALTER TABLE enrollment ADD COLUMN revoked_sig BLOB;     -- the server key's signature of the notice

CREATE TABLE sync_health (
  one              INTEGER PRIMARY KEY CHECK (one = 1),
  last_attempt_ms  INTEGER NOT NULL,   -- this terminal's clock when the last attempt ended
  last_outcome     TEXT NOT NULL,      -- ok, unreachable, server_busy, store_busy, stalled, refused,
                                       -- revoked, rejected, rolled_back, failed (sync_client.h)
  last_code        TEXT,               -- with refused: the server's code (scope, kind, unknown_device...)
  last_success_ms  INTEGER,            -- this terminal's clock at the last sync that completed; NULL: never
  failing_since_ms INTEGER,            -- the first failed attempt after the last success; NULL when the
                                       -- last attempt succeeded
  failures         INTEGER NOT NULL DEFAULT 0,  -- failed attempts since the last success
  last_error       TEXT                -- the message of the last failed attempt; NULL after a success
);
