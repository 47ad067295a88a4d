// The main of a fuzz target in builds without libFuzzer: runs every file named on the command
// line, and every file in every folder named (sorted, names starting with '.' skipped), through
// LLVMFuzzerTestOneInput once. ctest runs each target on its seed corpus and its past crashes
// (tests/fuzz/regressions/<target>/) this way. A folder that does not exist holds no inputs; no
// input at all is a failure, so a corpus that went missing cannot pass unnoticed. A broken
// property aborts inside the target (fuzz_support.h), naming the input it was running.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "fuzz_support.h"

namespace fs = std::filesystem;

namespace {

std::vector<std::string> inputs_of(const std::string& arg) {
  std::vector<std::string> out;
  std::error_code ec;
  if (fs::is_regular_file(arg, ec)) return {arg};
  if (!fs::is_directory(arg, ec)) return out;
  for (const auto& entry : fs::directory_iterator(arg, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && !name.empty() && name[0] != '.') out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t runs = 0;
  for (int i = 1; i < argc; ++i) {
    for (const std::string& path : inputs_of(argv[i])) {
      std::fprintf(stderr, "replay: %s\n", path.c_str());
      const shiftbook::Bytes bytes = shiftbook::fuzz::read_file(path);
      LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
      ++runs;
    }
  }
  if (runs == 0) {
    std::fprintf(stderr, "replay: no inputs found in the files and folders given\n");
    return 1;
  }
  std::printf("replay: %zu inputs ran without a failure\n", runs);
  return 0;
}
