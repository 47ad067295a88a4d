// A browser of one for the head-office dashboard (docs/DASHBOARD.md): pages read over one
// keep-alive connection (cpp-httplib), with the cookies the server sets kept and sent back, and
// signing in through the sign-in form. Nothing here checks a page; the rows do. One thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "shiftbook/status.h"

namespace shiftbook::bench {

struct Page {
  int status = 0;
  std::string body;
};

class Browser {
 public:
  // No connection is made until the first request; an answer may take up to `read_timeout_s`.
  Browser(const std::string& host, int port, int read_timeout_s);
  ~Browser();
  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;

  // unavailable when no answer came; any HTTP status is an answer. Redirects are not followed.
  Result<Page> get(const std::string& path);
  Result<Page> post(const std::string& path, const std::vector<std::pair<std::string, std::string>>& form);
  // Signs in as `name`: the sign-in form (its token and the login cookie), then the form posted.
  // unauthenticated with the page's status unless it gave a session cookie.
  Status sign_in(const std::string& name, const std::string& password);

 private:
  struct Http;
  std::unique_ptr<Http> http_;
  std::map<std::string, std::string> cookies_;
};

}  // namespace shiftbook::bench
