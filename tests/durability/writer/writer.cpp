// The writer the SIGKILL test kills: opens a prepared store (a leader logged in, one shift open)
// and records entries until it is killed or has recorded MAX, writing "ack SEQ\n" straight to
// standard output after each call that returned, when the entry is durable. Every fifth entry
// corrects the last output, so kills also land in commits that update derived rows.
// usage: test_durability_writer STORE_DIR CLOCK_MS MAX
// Exits 0 after MAX entries, 1 when a call fails (the reason on standard error), 2 on bad usage.
#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "shiftbook/client/store.h"

int main(int argc, char** argv) {
  using namespace shiftbook;
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s STORE_DIR CLOCK_MS MAX\n", argv[0]);
    return 2;
  }
  // Never outlive the test, whatever happens to it.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::alarm(60);
  if (!crypto_init().is_ok()) return 1;
  FakeClock clock(std::strtoll(argv[2], nullptr, 10));
  const long max = std::strtol(argv[3], nullptr, 10);
  auto store = client::Store::open(argv[1], clock);
  if (!store.is_ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().to_string().c_str());
    return 1;
  }
  std::uint64_t last_output = 0;
  for (long i = 0; i < max; ++i) {
    Result<client::Recorded> r =
        (i % 5 == 4 && last_output != 0)
            ? (*store)->correct(std::to_string(last_output), Json{{"quantity", 100000 + i}}, "recounted")
            : (*store)->log_output("", "P1", i + 1);
    if (!r.is_ok()) {
      std::fprintf(stderr, "entry %ld: %s\n", i, r.status().to_string().c_str());
      return 1;
    }
    if (r->kind == "output") last_output = r->seq;
    char line[32];
    int n = std::snprintf(line, sizeof line, "ack %llu\n", static_cast<unsigned long long>(r->seq));
    if (::write(1, line, static_cast<std::size_t>(n)) != n) return 1;
  }
  return 0;
}
