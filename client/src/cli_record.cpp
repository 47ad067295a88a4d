// Recording entries: log hours|output|bonus, confirm, correct, void. Arguments become the store's
// units here (clock times to minutes, quantities to base units); every rule is the store's.
#include <iostream>
#include <optional>

#include "cli_commands.h"
#include "cli_io.h"
#include "cli_render.h"
#include "shiftbook/kinds.h"

namespace shiftbook::cli {
namespace {

// An end at or before 24:00 that is earlier than the start is on the next day. An end equal to
// the start stays as given, so the store refuses it as zero-length rather than reading 24 hours
// into a slip of the finger; "30:00" style ends are taken as given.
std::int64_t end_after_midnight(std::int64_t start, std::int64_t end) {
  return end < start && end < kMinutesPerDay ? end + kMinutesPerDay : end;
}

std::string span_text(std::int64_t start, std::int64_t end) {
  return format_minutes(start % kMinutesPerDay) + "-" + format_minutes(end % kMinutesPerDay) + " (" +
         duration_text(end - start) + ")";
}

// The product's reference record, for its decimals and unit name.
Result<Json> find_product(client::Store& store, const std::string& product) {
  SB_ASSIGN_OR_RETURN(Json ref, store.reference());
  for (const Json& p : array_of(ref, "products")) {
    if (str_of(p, "id") == product) return p;
  }
  // A revoked terminal has no reference data: say that, not that the product is unknown.
  if (auto sync = store.sync_state(); sync.is_ok() && sync->revoked) SB_RETURN_IF_ERROR(store.session().status());
  return not_found("product '" + product + "' is not in the reference data; check the product id");
}

Result<std::int64_t> quantity_of(client::Store& store, const std::string& product, const std::string& text) {
  SB_ASSIGN_OR_RETURN(Json p, find_product(store, product));
  return parse_quantity(text, static_cast<int>(int_of(p, "decimals")));
}

std::string recorded(const client::Recorded& r, const std::string& what) {
  return "recorded entry " + std::to_string(r.seq) + ": " + what;
}

// The entry as it stands after `r`, in one line; empty if it cannot be read back.
std::string current_text(client::Store& store, const client::Recorded& r) {
  auto shown = store.show_entry(std::to_string(r.seq));
  if (!shown.is_ok() || !shown->is_object() || !shown->contains("entry")) return {};
  return entry_text((*shown)["entry"]);
}

struct HoursOpts {
  std::string shift, worker, start, end;
  bool special = false;
};
struct OutputOpts {
  std::string shift, product, quantity;
};
struct BonusOpts {
  std::string shift, worker, type, note;
};

void add_shift_option(CLI::App* sub, std::string& shift) {
  sub->add_option("--shift", shift, "The shift (default: the only open shift)")->type_name("REF");
}

void add_log(CLI::App& app, Context& ctx) {
  auto* log = app.add_subcommand("log", "Record hours, output or a bonus in an open shift");
  log->require_subcommand(1);

  auto* hours = log->add_subcommand(
      "hours", "Record a worker's hours; an end earlier than the start is on the next day, and ends up to 48:00 "
               "(30:00 is 06:00 the next day) are taken as given");
  auto ho = std::make_shared<HoursOpts>();
  hours->add_option("--worker", ho->worker, "The worker's id")->required();
  hours->add_option("--start", ho->start, "Start time")->required()->type_name("HH:MM");
  hours->add_option("--end", ho->end, "End time")->required()->type_name("HH:MM");
  hours->add_flag("--special", ho->special, "The work was in a special (hazardous) environment");
  add_shift_option(hours, ho->shift);
  add_json_flag(hours, ctx);
  on_run(hours, ctx, ho, [](Context& c, HoursOpts& o) -> Status {
    SB_ASSIGN_OR_RETURN(std::int64_t start, parse_clock_time(o.start));
    SB_ASSIGN_OR_RETURN(std::int64_t end, parse_clock_time(o.end));
    end = end_after_midnight(start, end);
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    SB_ASSIGN_OR_RETURN(client::Recorded r, store->log_hours(o.shift, o.worker, start, end, o.special));
    print_recorded(c, r, recorded(r, "hours " + o.worker + " " + span_text(start, end) + (o.special ? " special" : "")));
    return Status::ok();
  });

  auto* output = log->add_subcommand("output", "Record output of a product");
  auto oo = std::make_shared<OutputOpts>();
  output->add_option("--product", oo->product, "The product's id")->required();
  output->add_option("--quantity", oo->quantity, "In the product's unit; up to 3 decimals for products kept so")
      ->required()->type_name("Q");
  add_shift_option(output, oo->shift);
  add_json_flag(output, ctx);
  on_run(output, ctx, oo, [](Context& c, OutputOpts& o) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    SB_ASSIGN_OR_RETURN(Json product, find_product(*store, o.product));
    const int decimals = static_cast<int>(int_of(product, "decimals"));
    SB_ASSIGN_OR_RETURN(std::int64_t quantity, parse_quantity(o.quantity, decimals));
    SB_ASSIGN_OR_RETURN(client::Recorded r, store->log_output(o.shift, o.product, quantity));
    const std::string unit = str_of(product, "unit");
    print_recorded(c, r, recorded(r, "output " + o.product + " " + format_quantity(quantity, decimals) +
                                         (unit.empty() ? "" : " " + unit)));
    return Status::ok();
  });

  auto* bonus = log->add_subcommand("bonus", "Record bonus-eligible work");
  auto bo = std::make_shared<BonusOpts>();
  bonus->add_option("--worker", bo->worker, "The worker's id")->required();
  bonus->add_option("--type", bo->type, "special_environment, skill_upgrade or innovation")->required();
  bonus->add_option("--note", bo->note, "What was done")->type_name("TEXT");
  add_shift_option(bonus, bo->shift);
  add_json_flag(bonus, ctx);
  on_run(bonus, ctx, bo, [](Context& c, BonusOpts& o) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    std::optional<std::string> note;
    if (!o.note.empty()) note = o.note;
    SB_ASSIGN_OR_RETURN(client::Recorded r, store->log_bonus(o.shift, o.worker, o.type, note));
    print_recorded(c, r, recorded(r, "bonus " + o.worker + " " + o.type));
    return Status::ok();
  });
}

struct ConfirmOpts {
  std::string entry, worker;
};
struct CorrectOpts {
  std::string entry, reason, worker, start, end, special, quantity, type, note;
};
struct VoidOpts {
  std::string entry, reason;
};

// The fields a correction changes, in the store's units. Clock times and quantities depend on
// the entry as it stands (its start for the midnight rule, its product for decimals: a correction
// keeps the product, so a quantity is always read in the unit it was recorded in).
Result<Json> correction_changes(client::Store& store, const CorrectOpts& o) {
  Json changes = Json::object();
  if (!o.worker.empty()) changes["worker"] = o.worker;
  if (!o.special.empty()) changes["special"] = o.special == "yes";
  if (!o.type.empty()) changes["type"] = o.type;
  if (!o.note.empty()) changes["note"] = o.note;
  Json current;
  if (!o.start.empty() || !o.end.empty() || !o.quantity.empty()) {
    SB_ASSIGN_OR_RETURN(Json shown, store.show_entry(o.entry));
    current = shown.is_object() && shown.contains("entry") ? shown["entry"] : Json::object();
  }
  if (!o.start.empty() || !o.end.empty()) {
    std::int64_t start = int_of(current, "start");
    std::int64_t end = int_of(current, "end");
    if (!o.start.empty()) {
      SB_ASSIGN_OR_RETURN(start, parse_clock_time(o.start));
      changes["start"] = start;
    }
    if (!o.end.empty()) {
      SB_ASSIGN_OR_RETURN(end, parse_clock_time(o.end));
      changes["end"] = end_after_midnight(start, end);
    }
  }
  if (!o.quantity.empty()) {
    const std::string product = str_of(current, "product");
    if (product.empty()) return invalid_argument("entry " + o.entry + " is not an output entry; it has no quantity");
    SB_ASSIGN_OR_RETURN(changes["quantity"], quantity_of(store, product, o.quantity));
  }
  return changes;
}

void add_entry_commands(CLI::App& app, Context& ctx) {
  auto* confirm = app.add_subcommand("confirm", "A worker confirms their hours entry; reads the worker's PIN");
  auto co = std::make_shared<ConfirmOpts>();
  confirm->add_option("ENTRY", co->entry, "The hours entry: its number, or 8+ digits of its hash")->required();
  confirm->add_option("--worker", co->worker, "The worker confirming")->required();
  add_json_flag(confirm, ctx);
  on_run(confirm, ctx, co, [](Context& c, ConfirmOpts& o) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    SB_ASSIGN_OR_RETURN(std::string pin, read_pin("PIN of worker " + o.worker, false));
    auto r = store->confirm(o.entry, o.worker, pin);
    wipe(pin);
    if (!r.is_ok()) return r.status();
    print_recorded(c, *r, recorded(*r, o.worker + " confirmed entry " + o.entry));
    return Status::ok();
  });

  auto* correct = app.add_subcommand("correct", "Correct an hours, output or bonus entry; give the fields that change");
  auto xo = std::make_shared<CorrectOpts>();
  correct->add_option("ENTRY", xo->entry, "The entry: its number, or 8+ digits of its hash")->required();
  correct->add_option("--reason", xo->reason, "Why it is corrected")->required()->type_name("TEXT");
  correct->add_option("--worker", xo->worker, "New worker (hours, bonus)");
  correct->add_option("--start", xo->start, "New start time (hours)")->type_name("HH:MM");
  correct->add_option("--end", xo->end, "New end time (hours); before the start means the next day")->type_name("HH:MM");
  correct->add_option("--special", xo->special, "Special environment (hours)")->check(CLI::IsMember({"yes", "no"}));
  correct->add_option("--quantity", xo->quantity, "New quantity (output)")->type_name("Q");
  correct->add_option("--type", xo->type, "New bonus type (bonus)");
  correct->add_option("--note", xo->note, "New note (bonus)")->type_name("TEXT");
  add_json_flag(correct, ctx);
  on_run(correct, ctx, xo, [](Context& c, CorrectOpts& o) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    SB_ASSIGN_OR_RETURN(Json changes, correction_changes(*store, o));
    SB_ASSIGN_OR_RETURN(client::Recorded r, store->correct(o.entry, changes, o.reason));
    const std::string now = current_text(*store, r);
    print_recorded(c, r, recorded(r, "corrected entry " + o.entry + (now.empty() ? "" : ", now " + now)));
    return Status::ok();
  });

  auto* voided = app.add_subcommand("void", "Void an entry; it stays in the log but no longer counts");
  auto vo = std::make_shared<VoidOpts>();
  voided->add_option("ENTRY", vo->entry, "The entry: its number, or 8+ digits of its hash")->required();
  voided->add_option("--reason", vo->reason, "Why it is voided")->required()->type_name("TEXT");
  add_json_flag(voided, ctx);
  on_run(voided, ctx, vo, [](Context& c, VoidOpts& o) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    SB_ASSIGN_OR_RETURN(client::Recorded r, store->void_entry(o.entry, o.reason));
    print_recorded(c, r, recorded(r, "voided entry " + o.entry));
    return Status::ok();
  });
}

}  // namespace

void add_record_commands(CLI::App& app, Context& ctx) {
  add_log(app, ctx);
  add_entry_commands(app, ctx);
}

}  // namespace shiftbook::cli
