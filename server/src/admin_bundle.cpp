// `shiftbook-server bundle import FILE --reply FILE2`: answers a bundle a terminal with no network
// exported, as `serve` answers its requests over HTTP, and writes the reply for the terminal to
// import (Service::bundle does the work). Prints one log line per answer, as `serve` does, and a
// summary.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "admin.h"
#include "shiftbook/platform/console.h"
#include "shiftbook/platform/files.h"

namespace shiftbook::server::cli {
namespace {

constexpr std::size_t kMiB = 1024 * 1024;

struct BundleImportOpts {
  std::string file;
  std::string reply;
  std::size_t reply_max = 64 * kMiB;
};

std::string events_text(std::uint64_t n) { return std::to_string(n) + (n == 1 ? " event" : " events"); }

Status read_request(const std::string& path, std::ifstream& in) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return invalid_argument(path + " is a folder, not a bundle file");
  in.open(path, std::ios::binary);
  if (!in) return errno_status("cannot read " + path);
  return Status::ok();
}

Json report_json(const BundleReport& r, const std::string& reply, std::uint64_t bytes) {
  Json refused = Json::array();
  for (const BundleRefusal& x : r.refused) {
    refused.push_back(Json{{"request", x.part + 1}, {"code", x.code}, {"message", x.message}});
  }
  return Json{{"bundle", to_hex(r.id)},  {"device", to_hex(r.device)}, {"requests", r.requests},
              {"answers", r.answers},    {"pushed", r.pushed},         {"server_seq", r.server_seq},
              {"pulled", r.pulled},      {"more", r.more},             {"refused", std::move(refused)},
              {"reply", reply},          {"bytes", bytes},             {"log", r.log_lines}};
}

void print_report(const BundleReport& r, const std::string& reply, std::uint64_t bytes) {
  for (const std::string& line : r.log_lines) std::cout << line << '\n';
  std::cout << "answered bundle " << short_bundle(r.id) << " of terminal " << short_key(r.device) << ": "
            << r.requests << (r.requests == 1 ? " request" : " requests") << ", pushed " << events_text(r.pushed)
            << " (this server holds "
            << (r.server_seq == 0 ? std::string("none of its events") : "its events 1 to " + std::to_string(r.server_seq))
            << "), pulled "
            << events_text(r.pulled) << " in " << r.answers << (r.answers == 1 ? " answer" : " answers")
            << "; wrote the reply to " << reply << " (" << bytes << " bytes)\n";
  for (const BundleRefusal& x : r.refused) {
    std::cout << "request " << x.part + 1 << " refused: " << x.code << ": " << x.message << '\n';
  }
  if (r.more) {
    std::cout << "the reply is full (--reply-max): there is more for this terminal; it gets it with its next "
                 "bundle\n";
  }
}

}  // namespace

void add_bundle_commands(CLI::App& app, Context& ctx) {
  auto* bundle = app.add_subcommand("bundle", "Sync with terminals that have no network, by files carried by hand");
  bundle->require_subcommand(1);
  auto* import = bundle->add_subcommand(
      "import", "Answer a bundle a terminal exported ('shiftbook bundle export'), as a sync over HTTP would, and "
                "write the reply for the terminal to import");
  auto o = std::make_shared<BundleImportOpts>();
  import->add_option("FILE", o->file, "The terminal's bundle")->required();
  import->add_option("--reply", o->reply, "Where to write the reply (replaced whole, or left as it was)")
      ->required()
      ->type_name("FILE2");
  import->add_option("--reply-max", o->reply_max,
                     "Stop adding further pulled events to the reply at this size (default 64 MiB; every request "
                     "is answered whatever it says)")
      ->type_name("BYTES")
      ->check(CLI::Range(kMiB, std::size_t{4096} * kMiB));
  add_json_flag(import, ctx);
  on_run(import, ctx, o, [](Context& c, BundleImportOpts& opts) -> Status {
    std::ifstream in;
    SB_RETURN_IF_ERROR(read_request(opts.file, in));
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    BundleReport report;
    auto reply = service->bundle(in, opts.reply_max, report);
    if (!reply.is_ok()) return reply.status().with_context("bundle " + opts.file + ": ");
    SB_RETURN_IF_ERROR(write_file_atomic(opts.reply, 0600, [&](std::ostream& out) { return write_bundle(out, *reply); }));
    const std::uint64_t bytes = bundle_size(*reply);
    if (c.json) {
      console::print_json(report_json(report, opts.reply, bytes));
    } else {
      print_report(report, opts.reply, bytes);
    }
    return Status::ok();
  });
}

}  // namespace shiftbook::server::cli
