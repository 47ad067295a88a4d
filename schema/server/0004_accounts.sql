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
