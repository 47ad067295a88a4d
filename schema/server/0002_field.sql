-- Shiftbook head-office store, schema version 2: sync in the field.
-- Revocation (a device_revoke event of the device's site signer marks the device in the same
-- transaction), quarantine (what a revoked device sends afterwards: kept, never positioned,
-- pulled or counted), the receipt of every push (the upper end of each event's trusted-time
-- bracket), and where each terminal will pull from next (how far behind it is).

-- When head office revoked the device (its site signer's device_revoke was appended, server
-- time) and why; 0 and '' while it is not revoked.
ALTER TABLE devices ADD COLUMN revoked_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN revoke_reason TEXT NOT NULL DEFAULT '';
-- The position the terminal pulls from next: the cursor of the last sync answer it was given
-- (or the one it asked with, when the answer pulled nothing: a revoked device's).
ALTER TABLE devices ADD COLUMN last_cursor INTEGER NOT NULL DEFAULT 0;

-- The receipt given for each push (its server_ms and signature; device, seq and hash are the
-- head's). 0 and NULL for pushes stored before version 2.
ALTER TABLE heads ADD COLUMN receipt_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE heads ADD COLUMN receipt_sig BLOB;

-- Events a revoked device pushed after its revocation, as pushed: each (device, seq) once (the
-- first one kept), with the signed head of the push that brought it and the server time it came.
CREATE TABLE quarantine (
  id          INTEGER PRIMARY KEY,
  device      BLOB NOT NULL,
  seq         INTEGER NOT NULL,
  hash        BLOB NOT NULL,
  kind        TEXT NOT NULL,
  raw         BLOB NOT NULL,
  received_ms INTEGER NOT NULL,
  head_seq    INTEGER NOT NULL,
  head_hash   BLOB NOT NULL,
  head_sig    BLOB NOT NULL,
  UNIQUE (device, seq)
);
