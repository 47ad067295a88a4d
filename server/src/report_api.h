// Head office's read-only reports over HTTP (docs/SERVER.md "Report endpoints"), apart from HTTP
// itself: each endpoint takes the request's Authorization header and query parameters and comes
// to a Reply, read through the same Service calls as the admin commands, so the bodies are the
// bytes `export payroll` and `returns --json` print. The API token is checked first (401 without
// a valid one, 403 for a revoked one); then the parameters (400 naming what is wrong and what to
// give); then the Service (404 for an unknown site, unit or period). Nothing here writes but the
// token's last use. http.cpp routes to these; thread-safe as the Service is.
#pragma once

#include <map>
#include <string>

#include "service.h"
#include "shiftbook/ledger.h"

namespace shiftbook::server {

// What a Status answers with over HTTP: its status and the error's code word.
struct HttpAnswer {
  int http_status;
  const char* code;
};
HttpAnswer http_answer(Code code);
// The words a caller is shown for a refusal: the Status's own, except for a failure inside the
// server (500: its message is for the server's log only) and a busy server (503); an aborted
// change (503 too) keeps its words, which say to try again.
std::string shown_message(const Status& s);

// What a report request brings, as HTTP gave it.
struct ReportRequest {
  std::string authorization;                       // the Authorization header; empty when absent
  std::multimap<std::string, std::string> params;  // the query parameters, decoded
  std::string peer;                                // the remote address, for the log
};

// GET /v1/reports/payroll?period=P[&site=S][&unit=U][&format=csv|json]: payroll_csv (text/csv,
// as an attachment named payroll-P.csv) or payroll_json of Service::payroll.
Reply payroll_report(Service& service, const ReportRequest& request);
// GET /v1/reports/returns[?site=S][&unit=U][&period=P]: {"returns":[return_json...]}, every
// site's period returns (Ledger::returns) or those of one site, unit or period.
Reply returns_report(Service& service, const ReportRequest& request);

// The payroll of `period` as a download: payroll_csv as the attachment payroll-P.csv, or
// payroll_json; the bytes `export payroll` writes. No log line.
Reply payroll_file(const std::string& period, const std::vector<PayrollRow>& rows, bool csv);

// One period return as `returns --json` and GET /v1/reports/returns list it.
Json return_json(const std::string& site, const PeriodReturn& r);

}  // namespace shiftbook::server
