// Sync by files: `shiftbook bundle export FILE` and `shiftbook bundle import FILE`, for a terminal
// with no network at all. The driver (bundle.h) does the work; this prints what it did.
#include <iostream>

#include "bundle.h"
#include "cli_commands.h"
#include "cli_io.h"
#include "cli_render.h"

namespace shiftbook::cli {
namespace {

std::string events_text(std::uint64_t n) { return std::to_string(n) + (n == 1 ? " event" : " events"); }

struct FileOpts {
  std::string file;
};

void add_export(CLI::App& bundle, Context& ctx) {
  auto* sub = bundle.add_subcommand(
      "export", "Write this terminal's unsent entries, and a request for what head office has for it, to a bundle "
                "file to carry to head office (for a terminal with no network)");
  auto o = std::make_shared<FileOpts>();
  sub->add_option("FILE", o->file, "The bundle file to write (replaced whole, or left as it was)")->required();
  add_json_flag(sub, ctx);
  on_run(sub, ctx, o, [](Context& c, FileOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    client::BundleExportReport r;
    SB_RETURN_IF_ERROR(client::export_bundle(*store, c.clock, opts.file, r));
    if (c.json) {
      print_json(Json{{"file", r.file},           {"bundle", to_hex(r.id)},      {"events", r.events},
                      {"first_seq", r.first_seq}, {"last_seq", r.last_seq},      {"parts", r.parts},
                      {"bytes", r.bytes},         {"fingerprint", r.fingerprint}});
      return Status::ok();
    }
    std::cout << "wrote bundle " << short_bundle(r.id) << " to " << r.file << ": ";
    if (r.events == 0) {
      std::cout << "no unsent events, and a request for what head office has for this terminal";
    } else {
      std::cout << events_text(r.events) << " (" << r.first_seq << " to " << r.last_seq << ") in " << r.parts
                << (r.parts == 1 ? " request" : " requests");
    }
    std::cout << ", " << r.bytes << " bytes, sealed for head office's server (fingerprint " << r.fingerprint << ")\n"
              << "take it to head office ('shiftbook-server bundle import " << r.file
              << " --reply REPLY') and bring the reply back to 'shiftbook bundle import REPLY'\n";
    return Status::ok();
  });
}

void add_import(CLI::App& bundle, Context& ctx) {
  auto* sub = bundle.add_subcommand(
      "import", "Take head office's reply to a bundle this terminal exported: receipts for its entries, reference "
                "data, shift leaders and other terminals' entries");
  auto o = std::make_shared<FileOpts>();
  sub->add_option("FILE", o->file, "The reply file that 'shiftbook-server bundle import' wrote")->required();
  add_json_flag(sub, ctx);
  on_run(sub, ctx, o, [](Context& c, FileOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    client::BundleImportReport r;
    Status s = client::import_bundle_reply(*store, opts.file, r);
    c.terminal_revoked = r.revoked.has_value();
    SB_RETURN_IF_ERROR(s);
    if (c.json) {
      print_json(Json{{"file", r.file},
                      {"bundle", to_hex(r.id)},
                      {"server_ms", r.server_ms},
                      {"answers", r.answers},
                      {"pushed", r.pushed},
                      {"pulled", r.pulled},
                      {"unshown", r.unshown},
                      {"server_seq", r.server_seq},
                      {"unsynced_events", r.unsynced},
                      {"more", r.more}});
      return Status::ok();
    }
    std::cout << "imported reply " << r.file << " (bundle " << short_bundle(r.id) << ", head office's time "
              << utc_time_text(r.server_ms) << "): pushed " << events_text(r.pushed) << ", pulled "
              << events_text(r.pulled) << " from " << r.answers << (r.answers == 1 ? " answer" : " answers") << "; "
              << held_text(r.server_seq, r.unsynced);
    if (r.unshown > 0) {
      std::cout << "; " << events_text(r.unshown)
                << " pulled name entries this terminal does not hold, and are kept "
                   "in the log without being shown";
    }
    if (r.more) std::cout << "; head office has more for this terminal: export another bundle";
    std::cout << '\n';
    return Status::ok();
  });
}

}  // namespace

void add_bundle_commands(CLI::App& app, Context& ctx) {
  auto* bundle = app.add_subcommand(
      "bundle", "Sync with head office by files carried by hand, for a terminal with no network: export a bundle, "
                "have head office answer it, import the reply");
  bundle->require_subcommand(1);
  add_export(*bundle, ctx);
  add_import(*bundle, ctx);
}

}  // namespace shiftbook::cli
