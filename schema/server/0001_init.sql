-- Shiftbook head-office store, schema version 1 (being written).
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
