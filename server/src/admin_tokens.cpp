// API tokens from the command line: `token create` (the token's text, shown this once: the server
// keeps only the hash of its secret), `token list` (never a secret) and `token revoke`. A token
// lets its holder read the reports over HTTP (GET /v1/reports/...), nothing else; docs/SERVER.md
// "API tokens".
#include <iostream>

#include "admin.h"
#include "shiftbook/platform/console.h"

namespace shiftbook::server::cli {

using console::print_json;
using console::Table;

namespace {

Json token_json(const TokenRecord& t) {
  return Json{{"id", t.id},
              {"name", t.name},
              {"created_ms", t.created_ms},
              {"revoked_ms", t.revoked_ms},
              {"last_used_ms", t.last_used_ms},
              {"state", t.revoked_ms != 0 ? "revoked" : "valid"}};
}

struct TokenOpts {
  std::string name;
  std::string id;
};

void add_create(CLI::App& group, Context& ctx) {
  auto* create = group.add_subcommand(
      "create", "Make an API token for the report endpoints (GET /v1/reports/...); it is shown only now");
  auto o = std::make_shared<TokenOpts>();
  create->add_option("--name", o->name, "Who or what will use it, such as 'payroll office' (1 to 100 bytes)")
      ->required();
  add_json_flag(create, ctx);
  on_run(create, ctx, o, [](Context& c, const TokenOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_ASSIGN_OR_RETURN(NewToken made, service->create_token(opts.name));
    if (c.json) {
      Json doc = token_json(made.record);
      doc["token"] = made.text;
      print_json(doc);
      return Status::ok();
    }
    std::cout << "API token " << made.record.id << " (" << made.record.name << "):\n"
              << made.text << '\n'
              << "Keep it now: it cannot be shown again (the server keeps only a hash of it).\n"
              << "Send it as the header 'Authorization: Bearer " << made.text.substr(0, 13) << "...'; revoke it with "
              << "'token revoke " << made.record.id << "'.\n";
    return Status::ok();
  });
}

void add_list(CLI::App& group, Context& ctx) {
  auto* list = group.add_subcommand("list", "List the API tokens, revoked ones too (never their secrets)");
  add_json_flag(list, ctx);
  on_run(list, ctx, [](Context& c) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_ASSIGN_OR_RETURN(std::vector<TokenRecord> tokens, service->tokens());
    if (c.json) {
      Json doc = {{"tokens", Json::array()}};
      for (const TokenRecord& t : tokens) doc["tokens"].push_back(token_json(t));
      print_json(doc);
      return Status::ok();
    }
    if (tokens.empty()) {
      std::cout << "no API tokens yet (make one with 'token create --name NAME')\n";
      return Status::ok();
    }
    Table t({"ID", "NAME", "CREATED", "LAST USED", "STATE"});
    for (const TokenRecord& r : tokens) {
      t.add({r.id, r.name, utc_or_never(r.created_ms), utc_or_never(r.last_used_ms),
             r.revoked_ms != 0 ? "revoked " + utc_or_never(r.revoked_ms) : "valid"});
    }
    t.print(std::cout);
    return Status::ok();
  });
}

void add_revoke(CLI::App& group, Context& ctx) {
  auto* revoke = group.add_subcommand("revoke", "Revoke an API token for good: requests with it get 403 from now on");
  auto o = std::make_shared<TokenOpts>();
  revoke->add_option("id", o->id, "The token's id (8 hex digits, as 'token list' shows)")->required();
  add_json_flag(revoke, ctx);
  on_run(revoke, ctx, o, [](Context& c, const TokenOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_ASSIGN_OR_RETURN(TokenRecord t, service->revoke_token(opts.id));
    if (c.json) {
      print_json(token_json(t));
      return Status::ok();
    }
    std::cout << "revoked API token " << t.id << " (" << t.name << ") at " << utc_or_never(t.revoked_ms)
              << ": requests with it are refused from now on\n";
    return Status::ok();
  });
}

}  // namespace

void add_token_commands(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand(
      "token", "API tokens: the credential of the read-only report endpoints over HTTP (payroll, returns)");
  group->require_subcommand(1);
  add_create(*group, ctx);
  add_list(*group, ctx);
  add_revoke(*group, ctx);
}

}  // namespace shiftbook::server::cli
