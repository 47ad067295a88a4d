// `shiftbook-server`: head office's command. Parses arguments, runs the one chosen command
// (init, key, serve, or an administration command of admin.h), and turns its Status into an exit
// status and one line on standard error.
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

#include "admin.h"
#include "http.h"
#include "server_dir.h"
#include "shiftbook/platform/console.h"
#include "shiftbook/protocol.h"

namespace {

using namespace shiftbook;
using namespace shiftbook::server;

void print_error(const std::string& message) { std::cerr << "shiftbook-server: " << message << '\n'; }

std::string exit_codes_help() {
  return "Every command takes --dir DIR (default $SHIFTBOOK_SERVER_DIR), before or after it, and --help.\n"
         "Exit status:\n"
         "  0   ok\n"
         "  1   internal error\n"
         "  2   usage error (unknown command or option, missing argument, no --dir)\n"
         "  3   invalid input (a bad date, time zone, quantity, PIN, listen address...)\n"
         "  4   not found (no server in DIR, unknown site, unit, product, worker...)\n"
         "  5   already exists (a server in DIR, a site or worker with that id...)\n"
         "  6   not allowed now (a person removed already, a product before any site...)\n"
         "  7   a terminal's bundle does not open with this server's key (changed on its way)\n"
         "  9   the server's files are damaged\n"
         "  10  busy, or the address cannot be bound (in use); try again\n"
         "  11  a limit was reached (disk full...)\n"
         "PINs are never taken from the command line: they are read without echo from the terminal,\n"
         "or as one line of standard input.";
}

Json key_json(const PublicKey& key) {
  return Json{{"server_key", to_hex(key)}, {"fingerprint", format_fingerprint(key)}};
}

void print_key(const PublicKey& key) {
  std::cout << "fingerprint " << format_fingerprint(key) << '\n' << "key         " << to_hex(key) << '\n';
}

struct InitOpts {
  std::string store;
};

void add_init(CLI::App& app, cli::Context& ctx) {
  auto* init = app.add_subcommand(
      "init", "Create a server in DIR (mode 0700): its key (server.key, mode 0600; terminals pin it) and store "
              "(server.db, or the one --store names, recorded in DIR/store)");
  auto o = std::make_shared<InitOpts>();
  init->add_option("--store", o->store,
                   "The store: sqlite:PATH, or a PostgreSQL database as postgresql://USER@HOST:PORT/DBNAME whose "
                   "tables init makes (docs/POSTGRES.md); default DIR/server.db");
  cli::add_json_flag(init, ctx);
  cli::on_run(init, ctx, o, [](cli::Context& c, const InitOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(PublicKey key, init_server_dir(c.dir, opts.store));
    if (c.json) {
      Json doc = key_json(key);
      doc["dir"] = c.dir;
      console::print_json(doc);
      return Status::ok();
    }
    std::cout << "created a server in " << c.dir << '\n';
    print_key(key);
    return Status::ok();
  });
}

void add_key(CLI::App& app, cli::Context& ctx) {
  auto* key = app.add_subcommand("key", "Print the server's public key and its fingerprint (enrollment codes carry it)");
  cli::add_json_flag(key, ctx);
  cli::on_run(key, ctx, [](cli::Context& c) -> Status {
    SB_ASSIGN_OR_RETURN(DeviceKey k, read_server_key(c.dir));
    if (c.json) {
      console::print_json(key_json(k.public_key()));
    } else {
      print_key(k.public_key());
    }
    return Status::ok();
  });
}

struct ServeOpts {
  std::string listen;
  int threads = HttpOptions{}.threads;
  std::vector<std::string> trusted_proxies;
};

void add_serve(CLI::App& app, cli::Context& ctx) {
  auto* serve_cmd = app.add_subcommand(
      "serve", "Serve terminals over HTTP until SIGTERM or SIGINT; prints 'listening on URL', one line per request, "
               "and 'stopped'");
  auto o = std::make_shared<ServeOpts>();
  serve_cmd->add_option("--listen", o->listen, "HOST:PORT to listen on, such as 127.0.0.1:8080 (port 0: any free one)")
      ->required();
  serve_cmd->add_option("--threads", o->threads,
                        "Connections served at once (default " + std::to_string(o->threads) + ", at most " +
                            std::to_string(kMaxThreads) + ")")
      ->check(CLI::Range(1, kMaxThreads));
  serve_cmd->add_option("--trusted-proxy", o->trusted_proxies,
                        "The IP address of a load balancer in front of this server (repeat for several): its "
                        "requests are taken to come from the last address of their X-Forwarded-For header");
  cli::on_run(serve_cmd, ctx, o, [](cli::Context& c, const ServeOpts& opts) -> Status {
    // A malformed address is refused before anything is opened.
    SB_RETURN_IF_ERROR(parse_listen_address(opts.listen).status());
    for (const std::string& proxy : opts.trusted_proxies) {
      if (!is_ip_address(proxy)) {
        return invalid_argument("--trusted-proxy '" + proxy +
                                "' is not an IP address: give the address the load balancer connects to this "
                                "server from, such as 10.0.0.2 or fd00::2 (host names are not accepted)");
      }
    }
    // The server keeps each site's ledger and brings it up to date at each report request, instead
    // of building it from the store each time (docs/SERVER.md, "Reports over HTTP").
    ServiceOptions service_options;
    service_options.keep_ledgers = true;
    SB_ASSIGN_OR_RETURN(auto service, open_server_dir(c.dir, c.clock, service_options));
    HttpOptions options;
    options.threads = opts.threads;
    options.trusted_proxies = opts.trusted_proxies;
    return serve(*service, opts.listen, options, std::cout);
  });
}

}  // namespace

int main(int argc, char** argv) {
  cli::Context ctx;
  CLI::App app{"shiftbook-server: head office. Keeps the sites' reference data, enrolls terminals, and\n"
               "syncs their signed logs over HTTP.",
               "shiftbook-server"};
  app.fallthrough();  // --dir (and --help) may follow the subcommand
  app.require_subcommand(1);
  app.add_option("--dir", ctx.dir, "Folder of the server (default: $SHIFTBOOK_SERVER_DIR)")
      ->type_name("DIR")
      ->envname("SHIFTBOOK_SERVER_DIR");
  app.footer(exit_codes_help());
  add_init(app, ctx);
  add_key(app, ctx);
  add_serve(app, ctx);
  cli::add_reference_commands(app, ctx);
  cli::add_access_commands(app, ctx);
  cli::add_bundle_commands(app, ctx);
  cli::add_conflict_commands(app, ctx);
  cli::add_payroll_commands(app, ctx);
  cli::add_token_commands(app, ctx);
  cli::add_account_commands(app, ctx);
  cli::add_audit_commands(app, ctx);
  cli::add_migrate_commands(app, ctx);

  if (auto done = command::parse(app, argc, argv)) return *done;
  if (ctx.dir.empty()) {
    print_error("no server folder: give --dir DIR or set SHIFTBOOK_SERVER_DIR");
    return console::kExitUsage;
  }

  return command::run("shiftbook-server", ctx.action);
}
