-- Shiftbook head-office store on PostgreSQL, schema version 3: API tokens (mirrors
-- ../0003_tokens.sql). Only the hash of a token's secret is kept.

CREATE TABLE tokens (
  id           TEXT PRIMARY KEY,             -- 8 lowercase hex digits, public (in the token's text)
  name         TEXT NOT NULL,
  secret_hash  BYTEA NOT NULL,               -- BLAKE2b-256 of the 32-byte secret; never the secret
  created_ms   BIGINT NOT NULL,
  revoked_ms   BIGINT NOT NULL DEFAULT 0,    -- 0 while it is valid
  last_used_ms BIGINT NOT NULL DEFAULT 0
);
