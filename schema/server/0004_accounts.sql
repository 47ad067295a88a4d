-- Shiftbook head-office store, schema version 4: head-office accounts (docs/DASHBOARD.md).
-- The people who sign in to the dashboard, made with `shiftbook-server account create`. Only the
-- Argon2id hash of a password is kept, in libsodium's string form; never the password.

CREATE TABLE accounts (
  name            TEXT PRIMARY KEY,            -- login name: 1 to 64 of a-z 0-9 . _ -
  password_hash   TEXT NOT NULL,               -- $argon2id$v=19$m=...,t=...,p=...$salt$hash
  created_ms      INTEGER NOT NULL,
  disabled_ms     INTEGER NOT NULL DEFAULT 0,  -- 0 while it may sign in
  failures        INTEGER NOT NULL DEFAULT 0,  -- wrong passwords in a row (counted before the check)
  locked_until_ms INTEGER NOT NULL DEFAULT 0,  -- 0, or the server time a lockout ends
  last_login_ms   INTEGER NOT NULL DEFAULT 0   -- 0: never signed in
) WITHOUT ROWID;

-- Signed-in sessions of the dashboard, one per sign-in (docs/DASHBOARD.md, "Sessions"). The
-- browser holds a random 32-byte secret in a cookie; the store keeps only its BLAKE2b-256 hash, so
-- a copy of the store signs no one in. Kept in the store, not in one process's memory, so that
-- every server process on the store knows them.
CREATE TABLE sessions (
  id_hash      BLOB PRIMARY KEY,                       -- BLAKE2b-256 of the cookie's secret
  account      TEXT NOT NULL REFERENCES accounts(name),
  created_ms   INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL                        -- server time of its last request (to the minute)
) WITHOUT ROWID;
CREATE INDEX sessions_by_account ON sessions (account);
