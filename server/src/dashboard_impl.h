// What the dashboard's pages share (dashboard.cpp): the page frame, sessions, the rule every
// action follows (docs/DASHBOARD.md, "Actions"), and small bits of HTML. Pages live in
// dashboard.cpp (sign-in, overview), dashboard_field.cpp (terminals, codes, conflicts, anomalies)
// and dashboard_returns.cpp (returns, share explanations, events, exports).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dashboard.h"
#include "report_text.h"

namespace shiftbook::server::dash {

inline constexpr std::int64_t kDayMs = 86'400'000;

// The first value of `name` among the query and form parameters; empty when absent.
std::string param(const DashboardRequest& request, const std::string& name);

// The body of a signed-in page, or why it cannot be drawn.
using PageBody = std::function<Result<std::string>(const SessionInfo&)>;

// GET of a page: 303 to the sign-in form without a session; the page in its frame (navigation
// under `nav`, who is signed in, sign-out); a refusal as the frame with its words.
Reply show_page(Service& service, const DashboardRequest& request, const std::string& title, const PageBody& body);

// GET of a download: as show_page, but `file` is the whole answer when it can be made.
Reply show_file(Service& service, const DashboardRequest& request, const std::string& title,
                const std::function<Result<Reply>()>& file);

// POST of an action (docs/DASHBOARD.md, "Actions"): 303 to the sign-in form without a session,
// 403 for a missing or foreign CSRF token, then `act`. A refusal from `act` draws the page the form
// came from (`redraw`) again with the refusal's words above it.
Reply run_action(Service& service, const DashboardRequest& request, const std::string& title, const PageBody& redraw,
                 const std::function<Result<Reply>(const SessionInfo&)>& act);

// 303 to `page` (which may hold a query) saying what was done: done=WHAT[&event=HEX].
Reply done_redirect(const std::string& page, const std::string& what, const std::optional<Hash>& event,
                    std::string log_line);
// The status paragraph a page shows after done_redirect: fixed words per WHAT, the event's first
// 16 hex digits; empty when the query says nothing done (or anything else).
std::string done_note(const DashboardRequest& request);

// A page of its own, framed or not (the sign-in form has no frame).
Reply framed_page(int status, const SessionInfo& session, const std::string& title, const std::string& body,
                  std::string log_line);
Reply bare_page(int status, const std::string& title, const std::string& body, std::string log_line);
Reply redirect(const std::string& to, std::string log_line);

// The hidden form field holding a session's CSRF token, and a form posting to `action` with it.
std::string hidden_token(const std::string& token);
std::string form_start(const std::string& action, const SessionInfo& session, const std::string& cls = {});
std::string hidden(const std::string& name, const std::string& value);

// The period a page shows (`period=`, else the one holding the server's date today; not_found
// for an unknown one; nullopt when none holds today), and a select to change it.
Result<std::optional<Json>> period_to_show(Service& service, const std::string& wanted);
Result<std::string> period_select(Service& service, const std::string& action, const std::string& current);

// id -> name of head office's reference items of `kind` (of one site, or all).
Result<std::map<std::string, std::string>> names_of(Service& service, const std::string& kind,
                                                    const std::string& site = {});

// `text` for a query parameter's value: every byte but A-Z a-z 0-9 - . _ ~ as %XX.
std::string url_encode(std::string_view text);

// The event with this hash as stored, decoded (nullopt when the server does not hold it).
Result<std::optional<Event>> stored_event(Service& service, const Hash& h);

// An event named for people: its first 16 hex digits as a link to its page.
std::string event_link(const Hash& h);
// Escapes each item and joins them.
std::string escaped_list(const std::vector<std::string>& items, const char* sep);

// The events named, side by side: one column each, with its terminal and seq, kind, author and
// every field of its body (`headings` label the columns; `marked` is shown as the current winner).
std::string events_side_by_side(Service& service, const std::vector<Hash>& events,
                                const std::vector<std::string>& headings, const std::optional<Hash>& marked);

// The pages of dashboard_field.cpp and dashboard_returns.cpp.
Reply terminals_page(Service& service, const DashboardRequest& request);
Reply revoke_action(Service& service, const DashboardRequest& request);
Reply code_action(Service& service, const DashboardRequest& request);
Reply conflicts_page(Service& service, const DashboardRequest& request);
Reply resolve_action(Service& service, const DashboardRequest& request);
Reply note_action(Service& service, const DashboardRequest& request);
Reply returns_page(Service& service, const DashboardRequest& request);
Reply approve_action(Service& service, const DashboardRequest& request);
Reply reopen_action(Service& service, const DashboardRequest& request);
Reply share_page(Service& service, const DashboardRequest& request);
Reply event_page(Service& service, const DashboardRequest& request);
Reply exports_page(Service& service, const DashboardRequest& request);
Reply payroll_csv_download(Service& service, const DashboardRequest& request);
Reply payroll_json_download(Service& service, const DashboardRequest& request);
Reply audit_page(Service& service, const DashboardRequest& request);

}  // namespace shiftbook::server::dash
