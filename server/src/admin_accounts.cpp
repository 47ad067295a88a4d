// Head-office accounts from the command line (docs/DASHBOARD.md): `account create`, `list`,
// `password` and `disable`. Passwords are read without echo from a terminal, or as one line of
// standard input; never from the command line, and wiped once used.
#include <iostream>

#include "admin.h"
#include "shiftbook/platform/console.h"

namespace shiftbook::server::cli {

using console::print_json;
using console::Table;

namespace {

struct AccountOpts {
  std::string name;
};

// The account's state for people: active, locked until when, or disabled since when.
std::string state_text(const AccountRecord& a, std::int64_t now_ms) {
  if (a.disabled_ms != 0) return "disabled " + format_utc(a.disabled_ms);
  if (a.locked_until_ms > now_ms) return "locked until " + format_utc(a.locked_until_ms);
  return "active";
}

Json account_json(const AccountRecord& a, std::int64_t now_ms) {
  return Json{{"name", a.name},
              {"created_ms", a.created_ms},
              {"last_login_ms", a.last_login_ms},
              {"disabled_ms", a.disabled_ms},
              {"locked_until_ms", a.locked_until_ms > now_ms ? a.locked_until_ms : 0},
              {"state", a.disabled_ms != 0 ? "disabled" : a.locked_until_ms > now_ms ? "locked" : "active"}};
}

CLI::Option* add_name(CLI::App* cmd, AccountOpts& o) {
  return cmd->add_option("--name", o.name, "The login name (1 to 64 of a-z, 0-9, '.', '_', '-')")->required();
}

// Reads the password (twice from a terminal) and runs `use` with it; the password is wiped after.
template <typename Use>
auto with_password(const std::string& prompt, Use use) -> decltype(use(std::string())) {
  SB_ASSIGN_OR_RETURN(std::string password, console::read_secret(prompt, "password", true));
  auto result = use(password);
  console::wipe(password);
  return result;
}

void add_create(CLI::App& group, Context& ctx) {
  auto* create = group.add_subcommand("create", "Make a head-office account for the dashboard; the password is read "
                                                "without echo, or as one line of standard input");
  auto o = std::make_shared<AccountOpts>();
  add_name(create, *o);
  add_json_flag(create, ctx);
  on_run(create, ctx, o, [](Context& c, const AccountOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_ASSIGN_OR_RETURN(AccountRecord a, with_password("Password for " + opts.name, [&](const std::string& password) {
                          return service->create_account(opts.name, password);
                        }));
    if (c.json) {
      print_json(account_json(a, c.clock.now_ms()));
      return Status::ok();
    }
    std::cout << "made account " << a.name << " (the server keeps only an Argon2id hash of its password)\n";
    return Status::ok();
  });
}

void add_list(CLI::App& group, Context& ctx) {
  auto* list = group.add_subcommand("list", "List the head-office accounts (never a password or its hash)");
  add_json_flag(list, ctx);
  on_run(list, ctx, [](Context& c) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_ASSIGN_OR_RETURN(std::vector<AccountRecord> accounts, service->accounts());
    const std::int64_t now = c.clock.now_ms();
    if (c.json) {
      Json doc = {{"accounts", Json::array()}};
      for (const AccountRecord& a : accounts) doc["accounts"].push_back(account_json(a, now));
      print_json(doc);
      return Status::ok();
    }
    if (accounts.empty()) {
      std::cout << "no accounts yet (make one with 'account create --name NAME')\n";
      return Status::ok();
    }
    Table t({"NAME", "CREATED", "LAST LOGIN", "STATE"});
    for (const AccountRecord& a : accounts) {
      t.add({a.name, format_utc(a.created_ms), format_utc(a.last_login_ms), state_text(a, now)});
    }
    t.print(std::cout);
    return Status::ok();
  });
}

void add_password(CLI::App& group, Context& ctx) {
  auto* password = group.add_subcommand("password", "Set a new password for an account; this also ends a lockout");
  auto o = std::make_shared<AccountOpts>();
  add_name(password, *o);
  add_json_flag(password, ctx);
  on_run(password, ctx, o, [](Context& c, const AccountOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_ASSIGN_OR_RETURN(AccountRecord a, with_password("New password for " + opts.name,
                                                       [&](const std::string& secret) {
                                                         return service->set_account_password(opts.name, secret);
                                                       }));
    if (c.json) {
      print_json(account_json(a, c.clock.now_ms()));
      return Status::ok();
    }
    std::cout << "set a new password for account " << a.name << "; it may sign in again\n";
    return Status::ok();
  });
}

void add_disable(CLI::App& group, Context& ctx) {
  auto* disable = group.add_subcommand("disable", "Disable an account for good: it can no longer sign in");
  auto o = std::make_shared<AccountOpts>();
  add_name(disable, *o);
  add_json_flag(disable, ctx);
  on_run(disable, ctx, o, [](Context& c, const AccountOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_ASSIGN_OR_RETURN(AccountRecord a, service->disable_account(opts.name));
    if (c.json) {
      print_json(account_json(a, c.clock.now_ms()));
      return Status::ok();
    }
    std::cout << "disabled account " << a.name << " at " << format_utc(a.disabled_ms) << "\n";
    return Status::ok();
  });
}

}  // namespace

void add_account_commands(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand("account", "Head-office accounts: who may sign in to the dashboard");
  group->require_subcommand(1);
  add_create(*group, ctx);
  add_list(*group, ctx);
  add_password(*group, ctx);
  add_disable(*group, ctx);
}

}  // namespace shiftbook::server::cli
