// Head-office accounts from the command line (docs/DASHBOARD.md): `account create`, `list`,
// `password` and `disable`. Passwords are read without echo from a terminal, or as one line of
// standard input; never from the command line, and wiped once used.
#include <functional>
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
  if (a.disabled_ms != 0) return "disabled " + utc_or_never(a.disabled_ms);
  if (a.locked_until_ms > now_ms) return "locked until " + utc_or_never(a.locked_until_ms);
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

// A subcommand taking --name (and --json) whose action is one Service call on the account; it
// prints the account as JSON, or what `said` makes of it.
using AccountCall = std::function<Result<AccountRecord>(Service&, const std::string& name)>;
using Said = std::function<std::string(const AccountRecord&)>;

void add_account_action(CLI::App& group, Context& ctx, const char* sub, const char* help, AccountCall call, Said said) {
  auto* cmd = group.add_subcommand(sub, help);
  auto o = std::make_shared<AccountOpts>();
  add_name(cmd, *o);
  add_json_flag(cmd, ctx);
  on_run(cmd, ctx, o, [call, said](Context& c, const AccountOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_ASSIGN_OR_RETURN(AccountRecord a, call(*service, opts.name));
    if (c.json) {
      print_json(account_json(a, c.clock.now_ms()));
    } else {
      std::cout << said(a) << '\n';
    }
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
      t.add({a.name, utc_or_never(a.created_ms), utc_or_never(a.last_login_ms), state_text(a, now)});
    }
    t.print(std::cout);
    return Status::ok();
  });
}

}  // namespace

void add_account_commands(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand("account", "Head-office accounts: who may sign in to the dashboard");
  group->require_subcommand(1);
  add_account_action(
      *group, ctx, "create",
      "Make a head-office account for the dashboard; the password is read without echo, or as one line of standard input",
      [](Service& service, const std::string& name) {
        return with_password("Password for " + name, [&](const std::string& password) {
          return service.create_account(name, password);
        });
      },
      [](const AccountRecord& a) {
        return "made account " + a.name + " (the server keeps only an Argon2id hash of its password)";
      });
  add_list(*group, ctx);
  add_account_action(
      *group, ctx, "password", "Set a new password for an account; this also ends a lockout and its sessions",
      [](Service& service, const std::string& name) {
        return with_password("New password for " + name, [&](const std::string& password) {
          return service.set_account_password(name, password);
        });
      },
      [](const AccountRecord& a) { return "set a new password for account " + a.name + "; it may sign in again"; });
  add_account_action(
      *group, ctx, "disable", "Disable an account for good: it can no longer sign in, and its sessions end",
      [](Service& service, const std::string& name) { return service.disable_account(name); },
      [](const AccountRecord& a) { return "disabled account " + a.name + " at " + utc_or_never(a.disabled_ms); });
}

}  // namespace shiftbook::server::cli
