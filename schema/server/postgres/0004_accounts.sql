-- Shiftbook head-office store on PostgreSQL, schema version 4: head-office accounts and dashboard
-- sessions (mirrors ../0004_accounts.sql, docs/DASHBOARD.md). Only password hashes (Argon2id) and
-- session-secret hashes are kept.

CREATE TABLE accounts (
  name            TEXT PRIMARY KEY,            -- login name: 1 to 64 of a-z 0-9 . _ -
  password_hash   TEXT NOT NULL,
  created_ms      BIGINT NOT NULL,
  disabled_ms     BIGINT NOT NULL DEFAULT 0,
  failures        BIGINT NOT NULL DEFAULT 0,
  locked_until_ms BIGINT NOT NULL DEFAULT 0,
  last_login_ms   BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
  id_hash      BYTEA PRIMARY KEY,
  account      TEXT NOT NULL REFERENCES accounts(name),
  created_ms   BIGINT NOT NULL,
  last_seen_ms BIGINT NOT NULL
);
CREATE INDEX sessions_by_account ON sessions (account);
