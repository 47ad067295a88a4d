-- Shiftbook terminal store, schema version 4: sync by files (bundles, docs/PROTOCOL.md "Bundles").
-- A bundle's requests are sealed when it is exported; their replies come back days later, maybe
-- twice or out of order. What opening a reply needs (each part's envelope key and request header)
-- is kept here, with what each part pushed, until it expires: 30 days after export, or when 16
-- later bundles were exported. An expired bundle keeps its row without keys, so that a late reply
-- is told "too old" rather than "never exported".

CREATE TABLE bundles (
  number      INTEGER PRIMARY KEY,   -- export order (this terminal's clock may jump)
  id          BLOB NOT NULL UNIQUE,  -- 16 random bytes, written in the bundle
  exported_ms INTEGER NOT NULL,      -- this terminal's clock at export
  parts       INTEGER NOT NULL,
  events      INTEGER NOT NULL,      -- own events pushed, all parts together
  bytes       INTEGER NOT NULL,      -- size of the file written
  -- NULL while its parts' keys are kept; 'age' (exported 30 days ago) or 'count' (16 later exports)
  -- once they were dropped.
  dropped_why TEXT CHECK (dropped_why IN ('age', 'count'))
);

CREATE TABLE bundle_parts (
  bundle         INTEGER NOT NULL REFERENCES bundles(number),
  part           INTEGER NOT NULL,   -- 0-based, the order of the requests in the file
  key            BLOB NOT NULL,      -- the envelope key (EnvelopeContext), 32 bytes
  request_header BLOB NOT NULL,      -- the request envelope's 93 header bytes
  first_seq      INTEGER NOT NULL,   -- the first own event pushed; 0 for a part that pushed none
  head_seq       INTEGER NOT NULL,   -- the signed head of the push (0 with first_seq 0)
  head_hash      BLOB,
  head_sig       BLOB,
  PRIMARY KEY (bundle, part)
) WITHOUT ROWID;
