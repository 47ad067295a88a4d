// Fuzz target "reference": a reference-data file as `shiftbook ref import FILE` reads it
// (docs/REFERENCE.md): the command line's JSON reader (cli_io.cpp, read_json_file) on the file,
// then Store::import_reference on a terminal store that has no leader and is not enrolled (the
// terminal being set up, which takes any file), made once. An import that succeeds must read back
// (Store::reference) with as many items per list as the file had. Every item of a list is also
// checked as the body of its head-office kind (validate_head_office_body): head office's admin
// commands take the same items from a clerk.
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "cli_io.h"
#include "fuzz_support.h"
#include "shiftbook/client/store.h"
#include "shiftbook/protocol.h"

namespace {

using namespace shiftbook;
using namespace shiftbook::fuzz;

constexpr std::pair<const char*, const char*> kLists[] = {
    {"sites", "ref_site"},       {"units", "ref_unit"},     {"periods", "ref_period"},
    {"products", "ref_product"}, {"workers", "ref_worker"}, {"quotas", "ref_quota"},
};

struct Terminal {
  Terminal() {
    init_crypto();
    store = must(client::Store::init(work_dir() + "/terminal", clock), "a terminal store");
  }
  FakeClock clock{kNowMs};
  std::unique_ptr<client::Store> store;
  const std::string input = work_dir() + "/reference.json";
};

Terminal& terminal() {
  static Terminal t;
  return t;
}

void check_read_back(client::Store& store, const Json& doc) {
  auto held = store.reference();
  check(held.is_ok(), "an imported reference does not read back: " + held.status().to_string());
  for (const auto& [list, kind] : kLists) {
    check((*held)[list].size() == doc[list].size(),
          std::string("the terminal holds a different number of ") + list + " than it imported");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Terminal& t = terminal();
  {
    std::ofstream out(t.input, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) fail("cannot write " + t.input);
  }
  auto doc = cli::read_json_file(t.input);
  if (!doc.is_ok()) return 0;
  Status imported = t.store->import_reference(*doc);
  if (imported.is_ok()) check_read_back(*t.store, *doc);
  if (!doc->is_object()) return 0;
  for (const auto& [list, kind] : kLists) {
    auto items = doc->find(list);
    if (items == doc->end() || !items->is_array()) continue;
    for (Json item : *items) {
      // Head office's workers carry "active" as well; a file's do not.
      if (std::string_view(kind) == "ref_worker" && item.is_object() && !item.contains("active")) {
        item["active"] = true;
      }
      (void)validate_head_office_body(kind, item);
    }
  }
  return 0;
}
