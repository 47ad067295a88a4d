// Child processes of the soak: see soak_process.h.
#include "soak_process.h"

namespace shiftbook::soak {
namespace {

constexpr auto kStartTimeout = std::chrono::seconds(10);
constexpr auto kStopTimeout = std::chrono::seconds(10);

}  // namespace

Result<ProcessResult> run_process(const std::vector<std::string>& argv, const std::string& input,
                                  std::optional<std::chrono::milliseconds> kill_after,
                                  std::chrono::milliseconds timeout) {
  RunOptions options;
  options.process.without_folder_defaults = false;
  options.input = input;
  options.kill_after = kill_after;
  options.timeout = timeout;
  return run_to_end(argv, options);
}

Result<std::string> Daemon::start() {
  if (running()) return internal_error(argv_[0] + " is running already");
  ProcessOptions options;
  options.without_folder_defaults = false;
  options.out_file = log_path_;
  options.err_file = log_path_;
  options.append = true;
  SB_ASSIGN_OR_RETURN(process_, Process::start(argv_, options));
  return process_.wait_for_line("listening on ", ProcessClock::now() + kStartTimeout);
}

int Daemon::stop() { return running() ? process_.stop(kStopTimeout) : -1; }

}  // namespace shiftbook::soak
