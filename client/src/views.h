// Private to the store's read side (views.cpp: list, show, shifts, status; summary.cpp: summaries):
// the pieces of docs/READING.md that both render, and a read snapshot so that one answer is
// computed from one state of the store. Used from the store's one thread, like the Db it borrows.
#pragma once

#include "event_ref.h"
#include "shiftbook/platform/db.h"
#include "shiftbook/canonical.h"

namespace shiftbook::client {

// The columns of the shifts table (alias s) that shift_json reads, in its order.
inline constexpr const char* kShiftColumns =
    "s.id, s.seq, s.unit, s.day, s.name, s.opened_by, s.closed_seq, s.closed_by, s.device";

// Joins `cf` to entries e: cf.target is not null when e is an hours entry that is confirmed, that is
// when an active (not void) confirmation names its current version, so a correction unconfirms it.
// A join on the set of confirmed versions rather than a correlated subquery: SQLite then indexes
// that set once instead of scanning the entries once per row. `confirms IS NOT NULL` (true of every
// confirmation) lets that set be read from the partial index entries_confirms, not the whole table.
inline constexpr const char* kConfirmedJoin =
    " LEFT JOIN (SELECT DISTINCT confirms AS target FROM entries"
    " WHERE kind = 'confirm' AND void = 0 AND confirms IS NOT NULL) cf"
    " ON e.kind = 'hours' AND cf.target = e.head ";

// A Shift of docs/READING.md from a row whose columns from `first` on are kShiftColumns; `refs`
// names it (its "ref") for people.
Result<Json> shift_json(const Stmt& st, int first, EventRefs& refs);

// The fields that say whose an event is and how to name it, added to an Entry, Shift or version:
// "ref" (what to type: this terminal's number, or a hash prefix), "device_short" and "mine".
Status add_ref_fields(Json& out, EventRefs& refs, const PublicKey& device, std::int64_t seq, const Hash& hash);


}  // namespace shiftbook::client
