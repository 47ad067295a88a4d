// The durable-entry row (bench_entry_row.h).
#include "bench_entry_row.h"

#include <sqlite3.h>

#include "bench_common.h"
#include "shiftbook/kinds.h"

namespace shiftbook::bench {
namespace {

Result<Json> reference(std::int64_t today) {
  SB_ASSIGN_OR_RETURN(std::string pin, hash_pin("1111", PinCost::kMinimum));
  Json workers = Json::array();
  for (int i = 0; i < kEntryWorkers; ++i) {
    workers.push_back({{"id", "W" + std::to_string(i)}, {"site", "S1"}, {"name", "Worker " + std::to_string(i)},
                       {"pin_hash", pin}});
  }
  return Json{{"format", "shiftbook-reference/1"},
              {"sites", Json::array({{{"id", "S1"}, {"name", "Plant"}, {"tz", "UTC"}}})},
              {"units", Json::array({{{"id", "U1"}, {"site", "S1"}, {"name", "Press shop"}}})},
              {"periods", Json::array({{{"id", "bench"}, {"start", format_date(today - 30)},
                                        {"end", format_date(today + 3650)}}})},
              {"products", Json::array({{{"id", "P1"}, {"name", "Bracket"}, {"unit", "pcs"}, {"decimals", 0}}})},
              {"workers", std::move(workers)},
              {"quotas", Json::array({{{"unit", "U1"}, {"period", "bench"}, {"product", "P1"}, {"quantity", 100000},
                                       {"version", 1}}})}};
}

}  // namespace

Result<std::unique_ptr<client::Store>> entry_store(const std::string& dir, const Clock& clock, std::int64_t today,
                                                   bool relaxed) {
  client::StoreOptions options;
  options.pin_cost = PinCost::kMinimum;
  options.relaxed_durability = relaxed;
  SB_ASSIGN_OR_RETURN(auto store, client::Store::init(dir, clock, options));
  SB_ASSIGN_OR_RETURN(Json ref, reference(today));
  SB_RETURN_IF_ERROR(store->import_reference(ref));
  SB_RETURN_IF_ERROR(store->add_leader("L1", "Bench", "4321"));
  SB_RETURN_IF_ERROR(store->login("L1", "4321", client::kMaxIdleMinutes).status());
  return store;
}

struct CommitFloor::Db {
  ~Db() {
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  Status error() const { return internal_error(std::string("one-row commits: ") + sqlite3_errmsg(db)); }
  sqlite3* db = nullptr;
  sqlite3_stmt* st = nullptr;
};

CommitFloor::~CommitFloor() = default;

Result<std::unique_ptr<CommitFloor>> CommitFloor::open(const std::string& path) {
  std::unique_ptr<CommitFloor> f(new CommitFloor);
  f->db_ = std::make_unique<Db>();
  Db& d = *f->db_;
  if (sqlite3_open(path.c_str(), &d.db) != SQLITE_OK) return unavailable("cannot open " + path);
  for (const char* sql : {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
                          "CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)"}) {
    if (sqlite3_exec(d.db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return d.error();
  }
  if (sqlite3_prepare_v2(d.db, "INSERT INTO t(body) VALUES(randomblob(200))", -1, &d.st, nullptr) != SQLITE_OK) {
    return d.error();
  }
  return f;
}

Result<double> CommitFloor::median_commit_ms(int n) {
  std::vector<double> times;
  for (int i = 0; i < n; ++i) {
    const auto start = Steady::now();
    if (sqlite3_step(db_->st) != SQLITE_DONE) return db_->error();
    sqlite3_reset(db_->st);
    times.push_back(ms_since(start));
  }
  return median(times);
}

Result<EntryRun> timed_entries(client::Store& store, std::int64_t day, int entries, bool close, double commit_ms) {
  if (close) SB_RETURN_IF_ERROR(store.close_shift("").status());
  SB_RETURN_IF_ERROR(store.open_shift("U1", day, std::nullopt).status());
  std::vector<double> times;
  int worker = 0;
  for (int i = 0; i < entries; ++i) {
    const auto start = Steady::now();
    auto r = (i % 4 == 3) ? store.log_hours("", "W" + std::to_string(worker++ % kEntryWorkers), 480, 960, false)
                          : store.log_output("", "P1", i + 1);
    times.push_back(ms_since(start));
    if (!r.is_ok()) return r.status().with_context("entry " + std::to_string(i + 1) + ": ");
  }
  EntryRun run;
  for (double t : times) run.mean_ms += t / static_cast<double>(times.size());
  run.median_ms = median(times);
  run.p99_ms = quantile(times, 0.99);
  run.max_ms = quantile(times, 1.0);
  run.commit_ms = commit_ms;
  return run;
}

}  // namespace shiftbook::bench
