// Who may enroll and who did: enrollment codes (create, list), and the enrolled devices
// (admin_devices.cpp). A code's secret is shown once, when it is made: the server keeps only its
// hash, and lists codes by the first digits of that hash.
#include <iostream>

#include "admin.h"
#include "shiftbook/platform/console.h"
#include "shiftbook/protocol.h"

namespace shiftbook::server::cli {

using console::print_json;
using console::Table;

namespace {

constexpr int kMaxValidHours = 30 * 24;

std::string code_id(const CodeRecord& c) { return to_hex(ByteView(c.secret_hash.data(), 4)); }

std::string code_state(const CodeRecord& c, std::int64_t now_ms) {
  if (c.used_ms > 0) return "used";
  return now_ms >= c.expires_ms ? "expired" : "open";
}

struct CodeOpts {
  std::string site;
  std::vector<std::string> units;
  int valid_hours = 24;
};

void add_code_commands(CLI::App& app, Context& ctx) {
  auto* code = app.add_subcommand("code", "Enrollment codes: one-time, expiring, for a site and some of its units");
  code->require_subcommand(1);

  auto* create = code->add_subcommand(
      "create", "Make an enrollment code; give it to the terminal's 'shiftbook enroll --code'. It is shown only now");
  auto o = std::make_shared<CodeOpts>();
  create->add_option("--site", o->site, "The site the terminal will belong to")->required();
  create->add_option("--unit", o->units, "A production unit of that site it may record for (repeat for more)")
      ->required();
  create->add_option("--valid-hours", o->valid_hours, "Hours until the code expires (1 to 720)")
      ->check(CLI::Range(1, kMaxValidHours));
  add_json_flag(create, ctx);
  on_run(create, ctx, o, [](Context& c, const CodeOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    const std::int64_t valid_ms = std::int64_t{opts.valid_hours} * 3'600'000;
    SB_ASSIGN_OR_RETURN(std::string text, service->create_code(opts.site, opts.units, valid_ms));
    // The stored record has the exact expiry; it is found by the hash of the code's secret.
    SB_ASSIGN_OR_RETURN(EnrollCode parsed, parse_enroll_code(text));
    const Hash secret_hash = blake2b_256(parsed.secret);
    SB_ASSIGN_OR_RETURN(std::vector<CodeRecord> codes, service->codes());
    std::int64_t expires_ms = c.clock.now_ms() + valid_ms;
    for (const CodeRecord& r : codes) {
      if (r.secret_hash == secret_hash) expires_ms = r.expires_ms;
    }
    if (c.json) {
      print_json(Json{{"code", text},
                      {"id", to_hex(ByteView(secret_hash.data(), 4))},
                      {"site", opts.site},
                      {"units", opts.units},
                      {"expires_ms", expires_ms}});
      return Status::ok();
    }
    std::cout << "enrollment code " << text << '\n'
              << "for site " << opts.site << ", units " << join(opts.units, " ") << '\n'
              << "valid until " << utc_or_never(expires_ms) << " (" << opts.valid_hours << " hours), once\n";
    return Status::ok();
  });

  auto* list = code->add_subcommand("list", "List the enrollment codes (by id: their secret is not kept)");
  add_json_flag(list, ctx);
  on_run(list, ctx, [](Context& c) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_ASSIGN_OR_RETURN(std::vector<CodeRecord> codes, service->codes());
    const std::int64_t now = c.clock.now_ms();
    if (c.json) {
      Json doc = {{"codes", Json::array()}};
      for (const CodeRecord& r : codes) {
        Json item = {{"id", code_id(r)},           {"site", r.site},         {"units", r.units},
                     {"created_ms", r.created_ms}, {"expires_ms", r.expires_ms}, {"state", code_state(r, now)},
                     {"used_ms", r.used_ms}};
        item["used_by"] = r.used_ms > 0 ? Json(to_hex(r.used_by)) : Json("");
        doc["codes"].push_back(std::move(item));
      }
      print_json(doc);
      return Status::ok();
    }
    if (codes.empty()) {
      std::cout << "no enrollment codes yet (make one with 'code create')\n";
      return Status::ok();
    }
    Table t({"CODE", "SITE", "UNITS", "CREATED", "EXPIRES", "STATE"});
    for (const CodeRecord& r : codes) {
      std::string state = code_state(r, now);
      if (r.used_ms > 0) state += " by " + short_key(r.used_by) + " at " + utc_or_never(r.used_ms);
      t.add({code_id(r), r.site, join(r.units, ","), utc_or_never(r.created_ms), utc_or_never(r.expires_ms), state});
    }
    t.print(std::cout);
    return Status::ok();
  });
}

}  // namespace

void add_access_commands(CLI::App& app, Context& ctx) {
  add_code_commands(app, ctx);
  add_device_commands(app, ctx);
}

}  // namespace shiftbook::server::cli
