-- Shiftbook head-office store on PostgreSQL, schema version 2: sync in the field (mirrors
-- ../0002_field.sql): revocation, quarantine, the receipt of every push, each terminal's cursor.

ALTER TABLE devices ADD COLUMN revoked_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN revoke_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN last_cursor BIGINT NOT NULL DEFAULT 0;

ALTER TABLE heads ADD COLUMN receipt_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE heads ADD COLUMN receipt_sig BYTEA;

CREATE TABLE quarantine (
  id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  device      BYTEA NOT NULL,
  seq         BIGINT NOT NULL,
  hash        BYTEA NOT NULL,
  kind        TEXT NOT NULL,
  raw         BYTEA NOT NULL,
  received_ms BIGINT NOT NULL,
  head_seq    BIGINT NOT NULL,
  head_hash   BYTEA NOT NULL,
  head_sig    BYTEA NOT NULL,
  UNIQUE (device, seq)
);
