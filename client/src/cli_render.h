// Text for people, rendered from the JSON documents the store's read calls return
// (docs/READING.md): compact aligned tables that fit a small screen. Rendering never fails: a
// field that is missing shows as blank. Pure functions of their input; one thread.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

#include "shiftbook/canonical.h"

namespace shiftbook::cli {

// One line describing an entry: "hours W1 06:00-14:00 (8:00) special", "output P1 120",
// "bonus W1 skill_upgrade", "confirm W1 of 12".
std::string entry_text(const Json& entry);
// "3 (U1 2026-11-16 night)" for a Shift object of this terminal; another terminal's is named by
// its reference and says whose: "5b7e22d1 (U1 2026-11-16 late, terminal bf6474d9)".
std::string shift_text(const Json& shift);
// How much of this terminal's log head office holds, from the last receipt's seq (`held`) and
// the own events it does not cover (`waiting`): "head office holds none of this terminal's events
// yet; 9 wait for the next sync", "head office holds this terminal's events 1 to 57".
std::string held_text(std::uint64_t held, std::uint64_t waiting);

// "2026-11-16 08:00:05 UTC" for milliseconds since 1970 (UTC); "-" for 0.
std::string utc_time_text(std::int64_t ms);

void render_reference(const Json& doc, std::ostream& out);  // ref show
void render_leaders(const Json& doc, std::ostream& out);    // leader list
void render_shifts(const Json& doc, std::ostream& out);     // shift list
void render_entries(const Json& doc, std::ostream& out);    // list
void render_show(const Json& doc, std::ostream& out);       // show
void render_summary(const Json& doc, std::ostream& out);    // summary
void render_status(const Json& doc, std::ostream& out);     // status
void render_conflicts(const Json& doc, std::ostream& out);  // conflicts
void render_anomalies(const Json& doc, std::ostream& out);  // anomalies

}  // namespace shiftbook::cli
