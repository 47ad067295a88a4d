// Setting up a terminal and working with shifts: init, ref, leader, login, logout, shift.
#include "cli_commands.h"

#include <iostream>
#include <optional>

#include "cli_io.h"
#include "cli_render.h"
#include "shiftbook/crypto.h"
#include "shiftbook/event.h"
#include "shiftbook/kinds.h"

namespace shiftbook::cli {

void print_recorded(const Context& ctx, const client::Recorded& r, const std::string& text) {
  if (ctx.json) {
    print_json(Json{{"seq", r.seq}, {"hash", to_hex(r.hash)}, {"kind", r.kind}});
  } else {
    std::cout << text << '\n';
  }
}

namespace {

std::string plural(std::size_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

void add_init(CLI::App& app, Context& ctx) {
  auto* sub = app.add_subcommand("init", "Create a new store with a fresh device key (in --store DIR)");
  add_json_flag(sub, ctx);
  on_run(sub, ctx, [](Context& c) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, client::Store::init(c.store_dir, c.clock, {}));
    const std::string key = to_hex(store->device());
    if (c.json) {
      print_json(Json{{"store", c.store_dir}, {"device", key}, {"device_short", short_device(store->device())}});
      return Status::ok();
    }
    std::cout << "created a store in " << c.store_dir << '\n'
              << "device " << short_device(store->device()) << '\n'
              << "key    " << key << '\n';
    return Status::ok();
  });
}

void add_rebuild(CLI::App& app, Context& ctx) {
  auto* sub = app.add_subcommand(
      "rebuild", "Rebuild what list and summary show from the signed events (when verify reports they differ)");
  on_run(sub, ctx, [](Context& c) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    // The events must be sound first: rebuilding from a damaged log would only spread the damage.
    SB_ASSIGN_OR_RETURN(client::VerifyReport chains, store->verify());
    if (!chains.log_ok) {
      return data_loss("the log itself does not verify, so nothing was rebuilt: " + chains.problem.message());
    }
    SB_RETURN_IF_ERROR(store->rebuild_derived());
    std::cout << "rebuilt the terminal's entries and shifts from " << chains.events << " signed events\n";
    return Status::ok();
  });
}

struct RefImportOpts {
  std::string file;
};

void add_ref(CLI::App& app, Context& ctx) {
  auto* ref = app.add_subcommand("ref", "Head office's reference data: sites, units, periods, products, workers, quotas");
  ref->require_subcommand(1);

  auto* import = ref->add_subcommand("import", "Replace the reference data with a JSON file from head office");
  auto io = std::make_shared<RefImportOpts>();
  import->add_option("FILE", io->file, "The reference file, or - for standard input")->required();
  on_run(import, ctx, io, [](Context& c, RefImportOpts& o) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    SB_ASSIGN_OR_RETURN(Json doc, read_json_file(o.file));
    SB_RETURN_IF_ERROR(store->import_reference(doc));
    std::string counts;
    for (const char* part : {"site", "unit", "period", "product", "worker", "quota"}) {
      const std::string key = std::string(part) + "s";
      std::size_t n = doc.contains(key) && doc[key].is_array() ? doc[key].size() : 0;
      counts += (counts.empty() ? "" : ", ") + plural(n, part);
    }
    std::cout << "imported reference data: " << counts << '\n';
    return Status::ok();
  });

  auto* show = ref->add_subcommand("show", "Show the reference data (PIN hashes left out)");
  add_json_flag(show, ctx);
  on_run(show, ctx, [](Context& c) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    SB_ASSIGN_OR_RETURN(Json doc, store->reference());
    if (c.json) print_json(doc); else render_reference(doc, std::cout);
    return Status::ok();
  });

  auto* hash = ref->add_subcommand("hash-pin", "Read a PIN and print its Argon2id hash, for a roster file");
  on_run(hash, ctx, [](Context&) -> Status {
    SB_ASSIGN_OR_RETURN(std::string pin, read_pin("PIN", true));
    auto h = hash_pin(pin);
    wipe(pin);
    if (!h.is_ok()) return h.status();
    std::cout << *h << '\n';
    return Status::ok();
  });
}

struct LeaderAddOpts {
  std::string id;
  std::string name;
};

void add_leader(CLI::App& app, Context& ctx) {
  auto* leader = app.add_subcommand("leader", "Shift leaders of this terminal");
  leader->require_subcommand(1);

  auto* add = leader->add_subcommand(
      "add", "Add a shift leader; reads the new PIN (the first leader may be added by anyone, later ones "
             "only while a leader is logged in)");
  auto ao = std::make_shared<LeaderAddOpts>();
  add->add_option("ID", ao->id, "The leader's id")->required();
  add->add_option("--name", ao->name, "The leader's name")->required();
  on_run(add, ctx, ao, [](Context& c, LeaderAddOpts& o) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    SB_ASSIGN_OR_RETURN(std::string pin, read_pin("New PIN for " + o.id, true));
    Status s = store->add_leader(o.id, o.name, pin);
    wipe(pin);
    SB_RETURN_IF_ERROR(s);
    std::cout << "added shift leader " << o.id << " (" << o.name << ")\n";
    return Status::ok();
  });

  auto* remove = leader->add_subcommand(
      "remove", "Remove a shift leader (to replace a PIN: remove, then add again); needs another leader logged in");
  auto ro = std::make_shared<LeaderAddOpts>();
  remove->add_option("ID", ro->id, "The leader's id")->required();
  on_run(remove, ctx, ro, [](Context& c, LeaderAddOpts& o) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    SB_RETURN_IF_ERROR(store->remove_leader(o.id));
    std::cout << "removed shift leader " << o.id << "; the entries they recorded stay in the log\n";
    return Status::ok();
  });

  auto* list = leader->add_subcommand("list", "List the shift leaders of this terminal");
  add_json_flag(list, ctx);
  on_run(list, ctx, [](Context& c) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    SB_ASSIGN_OR_RETURN(Json doc, store->leaders());
    if (c.json) print_json(doc); else render_leaders(doc, std::cout);
    return Status::ok();
  });
}

struct LoginOpts {
  std::string id;
  int idle = client::kDefaultIdleMinutes;
};

void add_login(CLI::App& app, Context& ctx) {
  auto* login = app.add_subcommand("login", "Log in as a shift leader; reads the PIN");
  auto lo = std::make_shared<LoginOpts>();
  login->add_option("ID", lo->id, "The leader's id")->required();
  login->add_option("--idle", lo->idle, "End the login after this many minutes without use (default 30, at most 720)")
      ->type_name("MINUTES");
  on_run(login, ctx, lo, [](Context& c, LoginOpts& o) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    SB_ASSIGN_OR_RETURN(std::string pin, read_pin("PIN for " + o.id, false));
    auto s = store->login(o.id, pin, o.idle);
    wipe(pin);
    if (!s.is_ok()) return s.status();
    std::cout << "logged in as " << s->leader << " (" << s->leader_name << "); the login ends after "
              << s->idle_minutes << " minutes without use\n";
    return Status::ok();
  });

  auto* logout = app.add_subcommand("logout", "End the current leader's login");
  on_run(logout, ctx, [](Context& c) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    auto who = store->session();
    SB_RETURN_IF_ERROR(store->logout());
    std::cout << (who.is_ok() ? "logged out " + who->leader : std::string("no one was logged in")) << '\n';
    return Status::ok();
  });
}

struct ShiftOpenOpts {
  std::string unit;
  std::string date;
  std::string name;
};

struct ShiftRefOpts {
  std::string shift;
  bool open_only = false;
};

void add_shift(CLI::App& app, Context& ctx) {
  auto* shift = app.add_subcommand("shift", "Open, close and list shifts");
  shift->require_subcommand(1);

  auto* open = shift->add_subcommand("open", "Open a shift of a production unit");
  auto oo = std::make_shared<ShiftOpenOpts>();
  open->add_option("--unit", oo->unit, "The production unit")->required();
  open->add_option("--date", oo->date, "The shift date (default: today in the site's time zone)")->type_name("YYYY-MM-DD");
  open->add_option("--name", oo->name, "A name for the shift, such as night");
  add_json_flag(open, ctx);
  on_run(open, ctx, oo, [](Context& c, ShiftOpenOpts& o) -> Status {
    std::optional<std::int64_t> day;
    if (!o.date.empty()) {
      SB_ASSIGN_OR_RETURN(day, parse_date(o.date));
    }
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    std::optional<std::string> name;
    if (!o.name.empty()) name = o.name;
    SB_ASSIGN_OR_RETURN(client::Recorded r, store->open_shift(o.unit, day, name));
    std::string date = o.date;
    if (date.empty()) {
      // The store chose the date; read it back to show the leader.
      auto shifts = store->list_shifts(true);
      if (shifts.is_ok()) {
        for (const Json& s : array_of(*shifts, "shifts")) {
          if (int_of(s, "seq") == static_cast<std::int64_t>(r.seq)) date = str_of(s, "date");
        }
      }
    }
    print_recorded(c, r, "opened shift " + std::to_string(r.seq) + ": unit " + o.unit +
                             (date.empty() ? "" : ", " + date) + (name ? ", " + *name : ""));
    return Status::ok();
  });

  auto* close = shift->add_subcommand("close", "Close a shift");
  auto co = std::make_shared<ShiftRefOpts>();
  close->add_option("--shift", co->shift, "The shift (default: the only open shift)")->type_name("REF");
  add_json_flag(close, ctx);
  on_run(close, ctx, co, [](Context& c, ShiftRefOpts& o) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    SB_ASSIGN_OR_RETURN(client::Recorded r, store->close_shift(o.shift));
    std::string which;
    if (auto shifts = store->list_shifts(false); shifts.is_ok()) {
      for (const Json& s : array_of(*shifts, "shifts")) {
        if (int_of(s, "closed_seq", -1) == static_cast<std::int64_t>(r.seq)) which = " " + shift_text(s);
      }
    }
    print_recorded(c, r, "recorded entry " + std::to_string(r.seq) + ": closed shift" + which);
    return Status::ok();
  });

  auto* list = shift->add_subcommand("list", "List the shifts of this terminal");
  auto lo = std::make_shared<ShiftRefOpts>();
  list->add_flag("--open", lo->open_only, "Only shifts that are still open");
  add_json_flag(list, ctx);
  on_run(list, ctx, lo, [](Context& c, ShiftRefOpts& o) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    SB_ASSIGN_OR_RETURN(Json doc, store->list_shifts(o.open_only));
    if (c.json) print_json(doc); else render_shifts(doc, std::cout);
    return Status::ok();
  });
}

}  // namespace

void add_setup_commands(CLI::App& app, Context& ctx) {
  add_init(app, ctx);
  add_rebuild(app, ctx);
  add_ref(app, ctx);
  add_leader(app, ctx);
  add_login(app, ctx);
  add_shift(app, ctx);
}

}  // namespace shiftbook::cli
