-- Shiftbook head-office store, schema version 3: API tokens.
-- The credentials of the read-only report endpoints (GET /v1/reports/...), made with
-- `shiftbook-server token create`. A token's text is "sbt_<id>_<secret>"; the secret is shown
-- once and never kept: only its hash is.

CREATE TABLE tokens (
  id           TEXT PRIMARY KEY,             -- 8 lowercase hex digits, public (in the token's text)
  name         TEXT NOT NULL,                -- what head office called it: who or what uses it
  secret_hash  BLOB NOT NULL,                -- BLAKE2b-256 of the 32-byte secret; never the secret
  created_ms   INTEGER NOT NULL,
  revoked_ms   INTEGER NOT NULL DEFAULT 0,   -- 0 while it is valid
  last_used_ms INTEGER NOT NULL DEFAULT 0    -- server time of the last request it was accepted for
) WITHOUT ROWID;
