#include "support/crash_process.h"

namespace shiftbook::testing::crash {

namespace {

constexpr auto kServerStartTimeout = std::chrono::seconds(10);
constexpr auto kServerStopTimeout = std::chrono::seconds(10);

ProcessOptions to_files(const std::string& out_path, const std::string& err_path) {
  ProcessOptions options;
  options.out_file = out_path;
  options.err_file = err_path;
  return options;
}

}  // namespace

Result<Process> start_to_files(const std::vector<std::string>& argv, const std::string& out_path,
                               const std::string& err_path) {
  return Process::start(argv, to_files(out_path, err_path));
}

Result<Ran> run(const std::vector<std::string>& argv, const std::string& scratch, std::chrono::milliseconds timeout) {
  RunOptions options;
  options.process = to_files(scratch + ".out", scratch + ".err");
  options.timeout = timeout;
  return run_to_end(argv, options);
}

Result<Ran> run_ok(const std::vector<std::string>& argv, const std::string& scratch,
                   std::chrono::milliseconds timeout) {
  SB_ASSIGN_OR_RETURN(Ran r, run(argv, scratch, timeout));
  if (r.exit_code != 0) {
    return internal_error(command_text(argv) + " exited with " + std::to_string(r.exit_code) + ": " + r.err);
  }
  return r;
}

Result<ServerChild> ServerChild::start(const std::string& dir, const std::string& log_prefix) {
  ServerChild s;
  const std::vector<std::string> argv{SHIFTBOOK_SERVER_BIN, "--dir", dir, "serve", "--listen", "127.0.0.1:0"};
  SB_ASSIGN_OR_RETURN(s.process_, start_to_files(argv, log_prefix + ".log", log_prefix + ".err"));
  Result<std::string> url = s.process_.wait_for_line("listening on ", Steady::now() + kServerStartTimeout);
  if (!url.is_ok()) return url.status().with_context("the server in " + dir + ": ");
  s.url_ = std::move(url).value();
  return s;
}

int ServerChild::stop() { return process_.stop(kServerStopTimeout); }

}  // namespace shiftbook::testing::crash
