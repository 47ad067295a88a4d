// SIGKILL: a process that records entries is killed at seeded random moments; afterwards the store
// opens, verifies, holds every entry the process acknowledged, and takes the next entry. The writer
// (writer/writer.cpp) prints "ack SEQ" after each call returns; the shiftbook command acknowledges
// by exiting 0. SHIFTBOOK_SEED (a number) replays other moments; every failure prints its seed.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "crash_check.h"
#include "support/fixture.h"

extern char** environ;

namespace {

using Ms = std::chrono::milliseconds;
using shiftbook::testing::Terminal;

std::uint64_t base_seed() {
  const char* s = std::getenv("SHIFTBOOK_SEED");
  return s && *s ? std::strtoull(s, nullptr, 10) : 20261116;
}

struct Killed {
  std::string out;
  std::string err;
  bool by_sigkill = false;  // still running when the kill came
  int exit_code = -1;       // when it finished first
};

// Starts `argv` (standard input closed, outputs captured), kills it with SIGKILL after `delay`,
// and reads what it printed until the pipes close. Everything is bounded by a 20-second deadline.
Killed run_and_kill(std::vector<std::string> argv, const std::vector<std::string>& env, Ms delay) {
  int out_pipe[2], err_pipe[2];
  REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(err_pipe, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) {
    if (std::string(*e).rfind("SHIFTBOOK_STORE=", 0) != 0) env_s.emplace_back(*e);
  }
  env_s.insert(env_s.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  REQUIRE_MESSAGE(rc == 0, "cannot start " << argv[0]);

  Killed result;
  const auto start = std::chrono::steady_clock::now();
  const auto kill_at = start + delay;
  const auto deadline = start + std::chrono::seconds(20);
  bool kill_sent = false;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  for (int open_fds = 2; open_fds > 0;) {
    const auto now = std::chrono::steady_clock::now();
    if (!kill_sent && now >= kill_at) {
      ::kill(pid, SIGKILL);
      kill_sent = true;
    }
    if (now >= deadline) {
      ::kill(pid, SIGKILL);
      FAIL("the child did not finish within 20 seconds");
      break;
    }
    auto wait_until = kill_sent ? deadline : kill_at;
    auto left = std::chrono::duration_cast<Ms>(wait_until - now).count();
    if (::poll(fds, 2, static_cast<int>(std::max<long long>(left, 0))) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.by_sigkill = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

// The seqs of the complete "ack SEQ" lines (a pipe write of one short line is atomic).
std::vector<std::uint64_t> acks(const std::string& out) {
  std::vector<std::uint64_t> seqs;
  std::istringstream in(out);
  std::string word;
  std::uint64_t seq = 0;
  while (in >> word >> seq) {
    if (word == "ack") seqs.push_back(seq);
  }
  return seqs;
}

// A terminal with a shift of U1 open, closed again so that other processes can record in it.
struct Prepared {
  Terminal t;
  Prepared() {
    auto shift = t.store->open_shift("U1", std::nullopt, std::nullopt);
    REQUIRE_MESSAGE(shift.is_ok(), shift.status().to_string());
    t.store.reset();
  }
};

}  // namespace

TEST_CASE("kill: a writer killed at random moments loses no acknowledged entry") {
  const std::uint64_t seed = base_seed();
  std::mt19937_64 rng(seed);
  Prepared p;
  std::vector<std::uint64_t> acked;
  int killed_after_acks = 0;
  const int iterations = 30;
  for (int iteration = 0; iteration < iterations; ++iteration) {
    const Ms delay(std::uniform_int_distribution<int>(5, 80)(rng));
    CAPTURE(seed);
    CAPTURE(iteration);
    CAPTURE(delay.count());
    Killed k = run_and_kill({SHIFTBOOK_WRITER, p.t.store_dir(), std::to_string(shiftbook::testing::kSampleNowMs),
                             "100000"},
                            {}, delay);
    REQUIRE_MESSAGE(k.by_sigkill, "the writer ended before the kill: exit " << k.exit_code << ", " << k.err);
    auto got = acks(k.out);
    killed_after_acks += got.empty() ? 0 : 1;
    acked.insert(acked.end(), got.begin(), got.end());
    auto seqs = shiftbook::testing::check_after_crash(p.t.store_dir(), p.t.clock, acked);
    acked.push_back(*seqs.rbegin() + 1);  // the entry check_after_crash recorded
  }
  // Many kills came after the writer had recorded something, so they hit it mid-stream (the
  // others hit it while it started or opened the store, which must be safe too).
  CHECK(killed_after_acks >= iterations / 3);
}

TEST_CASE("kill: the shiftbook command killed while logging output loses no acknowledged entry") {
  // The command reads the real clock, so the login it relies on is made on the real clock too.
  const std::uint64_t seed = base_seed() + 1;
  std::mt19937_64 rng(seed);
  shiftbook::SystemClock clock;
  Terminal t;
  t.clock.set(clock.now_ms());
  REQUIRE(t.store->login("L1", "4321").is_ok());
  REQUIRE(t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
  t.store.reset();
  std::vector<std::uint64_t> acked;
  int finished = 0, killed = 0;
  // One command takes about 30 to 40 ms here: the kills land from its start to after its end.
  for (int iteration = 0; iteration < 12; ++iteration) {
    const Ms delay(std::uniform_int_distribution<int>(2, 60)(rng));
    CAPTURE(seed);
    CAPTURE(iteration);
    CAPTURE(delay.count());
    Killed k = run_and_kill({SHIFTBOOK_BIN, "--store", t.store_dir(), "log", "output", "--product", "P1", "--quantity",
                             std::to_string(iteration + 1)},
                            {}, delay);
    if (k.by_sigkill) {
      ++killed;
    } else {
      // It finished first: exit 0 and "recorded entry SEQ" is its acknowledgement.
      REQUIRE_MESSAGE(k.exit_code == 0, k.err);
      const std::string mark = "recorded entry ";
      auto at = k.out.find(mark);
      REQUIRE_MESSAGE(at != std::string::npos, k.out);
      acked.push_back(std::strtoull(k.out.c_str() + at + mark.size(), nullptr, 10));
      ++finished;
    }
    auto seqs = shiftbook::testing::check_after_crash(t.store_dir(), clock, acked);
    acked.push_back(*seqs.rbegin() + 1);
  }
  CHECK(killed > 0);
}
