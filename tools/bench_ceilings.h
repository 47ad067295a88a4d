// The ceilings: what the building blocks do on this machine, in the same run as the rows, on the
// same events, so that every figure also reads as a fraction of what the machine allows. One
// thread; each function measures on its own and returns the median of `runs`.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "shiftbook/bytes.h"
#include "shiftbook/status.h"

namespace shiftbook::bench {

struct Ceilings {
  std::size_t events = 0;        // sample events measured on
  double event_bytes = 0;        // their mean size
  double insert_per_s = 0;       // plain SQLite insert (seq, hash, raw), one transaction, WAL, FULL
  double pg_insert_per_s = 0;    // plain PostgreSQL insert, the same in one transaction by COPY binary
                                 // (0: no PostgreSQL store given)
  double blake2b_per_s = 0;      // BLAKE2b-256 of each event's bytes
  double verify_per_s = 0;       // Ed25519 verification of a signed head
  double encode_per_s = 0;       // encode_event (canonical encoding, event.h)
  double decode_per_s = 0;       // decode_event (with its BLAKE2b and every rule checked)
  double xchacha_mb_s = 0;       // XChaCha20-Poly1305-IETF encryption of 1 MiB messages, MB/s
  // Every event a sync moves is at least decoded (with its hash), encrypted and decrypted once,
  // and inserted (the plain insert of SQLite or PostgreSQL): the sync rows' ceiling, in events per
  // second on one core; 0 for PostgreSQL when it was not measured.
  double sync_floor_per_s(bool postgres = false) const;
};

// Measures every field on `sample` (a terminal's chain, canonical bytes), with SQLite files in
// `dir`; the plain PostgreSQL insert in fresh schemas of the server `postgres_url` names, unless it
// is empty.
Result<Ceilings> measure_ceilings(const std::vector<Bytes>& sample, const std::string& dir, int runs,
                                  const std::string& postgres_url);

// The single-writer floor of `terminals` pushes at once: plain commits (`store` "sqlite:": SQLite
// in `dir`, WAL, FULL; a postgresql:// URL: PostgreSQL by COPY binary in a fresh schema) of
// `per_batch` events each from `sample` (re-used round robin, fresh seqs), one after another as
// one writer must take them; the milliseconds after which the fraction `q` of them were
// committed. Median of `runs`.
Result<double> single_writer_floor_ms(const std::vector<Bytes>& sample, const std::string& dir,
                                      const std::string& store, int terminals, int per_batch, double q, int runs);

}  // namespace shiftbook::bench
