// shiftbook-fuzz-corpus: the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/), made
// by the code itself: the golden vectors of tests/sync/golden, the example file of
// docs/REFERENCE.md, and messages, envelopes, events and codes built here from the fixed keys and
// chains of fuzz_support.h (with placeholders where the message target fills in signatures).
//   shiftbook-fuzz-corpus --write DIR   replaces DIR's target folders with the corpus
//   shiftbook-fuzz-corpus --check DIR   exit 1, naming the files, unless DIR holds exactly it
// Deterministic: every key, nonce and ephemeral secret is fixed. ctest runs --check on the
// committed corpus (fuzz_corpus_current), so a format change that leaves it stale is noticed.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_support.h"
#if __has_include("shiftbook/bundle.h")
#include "shiftbook/bundle.h"
#endif
#include "shiftbook/envelope.h"
#include "shiftbook/kinds.h"
#include "shiftbook/protocol.h"

namespace {

using namespace shiftbook;
using namespace shiftbook::fuzz;
namespace fs = std::filesystem;

using Corpus = std::map<std::string, Bytes>;  // "target/name" -> bytes

Bytes golden(const std::string& stem) {
  Bytes hex = read_file(std::string(SHIFTBOOK_GOLDEN_DIR) + "/" + stem + ".hex");
  std::string text;
  for (std::uint8_t c : hex) {
    if (c != '\n' && c != ' ') text += static_cast<char>(c);
  }
  return must(from_hex(text), "golden file " + stem);
}

Bytes text_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

// The events that follow `held` in `key`'s chain, one per (kind, body).
std::vector<SealedEvent> extend(const DeviceKey& key, const std::vector<SealedEvent>& held, const std::string& author,
                                const std::vector<std::pair<std::string, Json>>& items) {
  std::vector<SealedEvent> out;
  for (const auto& [kind, body] : items) {
    const SealedEvent* previous = !out.empty() ? &out.back() : !held.empty() ? &held.back() : nullptr;
    out.push_back(next_event(key, previous, author, kind, body));
  }
  return out;
}

// The events' bytes, every prev after the first event of the device a placeholder.
std::vector<Bytes> placeholder_prevs(const std::vector<SealedEvent>& events) {
  std::vector<Bytes> out;
  for (const SealedEvent& e : events) out.push_back(e.event.seq == 1 ? e.bytes : with_prev_placeholder(e.event));
  return out;
}

Json placeholder_head(const PublicKey& device, std::uint64_t seq) {
  return {{"device", to_hex(device)}, {"seq", seq}, {"hash", kLastHash}, {"sig", kSignHere}};
}

Json signed_head(const DeviceKey& key, const SealedEvent& last) {
  SignedHead h = sign_head(key, last.event.seq, last.event.hash);
  return {{"device", to_hex(h.device)}, {"seq", h.seq}, {"hash", to_hex(h.hash)}, {"sig", to_hex(h.signature)}};
}

Json placeholder_receipt() {
  return {{"seq", 0}, {"hash", to_hex(Hash{})}, {"server_ms", kNowMs + 60'000}, {"sig", kSignHere}};
}

Bytes message(Json header, std::vector<Bytes> events = {}) {
  Message m;
  m.header = std::move(header);
  m.events = std::move(events);
  return must(encode_message(m), "a corpus message");
}

Json sync_request(const Json& head = nullptr) {
  Json h = {{"type", "sync"}, {"v", kProtocolVersion}, {"cursor", 0}, {"pull_max", 65536}, {"client_ms", kNowMs}};
  if (!head.is_null()) h["head"] = head;
  return h;
}

Json sync_answer(const Json& heads, std::int64_t cursor) {
  return {{"type", "sync"}, {"receipt", placeholder_receipt()}, {"cursor", cursor}, {"more", false}, {"heads", heads}};
}

// Terminal A's next entries after chain_a: output, bonus, a correction of its hours, a void of the
// bonus, the shift closed.
std::vector<SealedEvent> more_of_a() {
  const std::string shift = hash_ref(chain_a()[0].event.hash);
  const std::string hours = hash_ref(chain_a()[1].event.hash);
  auto first = extend(terminal_a(), chain_a(), "L1",
                      {{"output", {{"shift", shift}, {"product", "P1"}, {"quantity", 120}, {"quota_version", 1}}},
                       {"bonus", {{"shift", shift}, {"worker", "W1"}, {"type", "special_environment"}}}});
  std::vector<SealedEvent> held = chain_a();
  held.insert(held.end(), first.begin(), first.end());
  auto rest = extend(
      terminal_a(), held, "L1",
      {{"correction",
        {{"target", hours},
         {"reason", "ended at 15:30"},
         {"entry", {{"shift", shift}, {"worker", "W1"}, {"start", 480}, {"end", 930}, {"special", true}}}}},
       {"void", {{"target", hash_ref(first[1].event.hash)}, {"reason", "logged twice"}}},
       {"shift_close", {{"shift", shift}}}});
  first.insert(first.end(), rest.begin(), rest.end());
  return first;
}

// Head office's next reference items after signer_chain: a new quota version, worker W2, leader
// L1 off the roster, the next period.
std::vector<SealedEvent> more_reference() {
  const std::string pin = reference_items()[6].second["pin_hash"].get<std::string>();
  return extend(site_signer(), signer_chain(), "head-office",
                {{"ref_quota", {{"unit", "U1"}, {"period", "2026-11"}, {"product", "P1"}, {"quantity", 650}, {"version", 2}}},
                 {"ref_worker", {{"id", "W2"}, {"site", "S1"}, {"name", "Boris"}, {"pin_hash", pin}, {"active", true}}},
                 {"ref_leader", {{"id", "L1"}, {"site", "S1"}, {"name", "Lena"}, {"pin_hash", pin}, {"active", false}}},
                 {"ref_period", {{"id", "2026-12"}, {"start", "2026-12-01"}, {"end", "2026-12-31"}}}});
}

// Terminal B, new to the enrolled terminal: a shift of unit U2 with hours and output in kg.
std::vector<SealedEvent> chain_b() {
  auto open = extend(terminal_b(), {}, "L1", {{"shift_open", {{"unit", "U2"}, {"date", "2026-11-17"}, {"name", "night"}}}});
  const std::string shift = hash_ref(open[0].event.hash);
  auto rest = extend(terminal_b(), open, "L1",
                     {{"hours", {{"shift", shift}, {"worker", "W1"}, {"start", 1320}, {"end", 1800}, {"special", false}}},
                      {"output", {{"shift", shift}, {"product", "P2"}, {"quantity", 12500}}}});
  open.insert(open.end(), rest.begin(), rest.end());
  return open;
}

void add_messages(Corpus& c) {
  const auto a = more_of_a();
  const auto ref = more_reference();
  const auto b = chain_b();
  const auto head_a = [&](const Json& hash, const Json& sig) {
    return Json{{"seq", a.back().event.seq}, {"hash", hash}, {"sig", sig}};
  };
  c["message/golden_request"] = golden("request_plaintext");
  c["message/golden_response"] = golden("response_plaintext");
  c["message/pull_only"] = message(sync_request());
  c["message/push_more"] = message(sync_request(head_a(kLastHash, kSignHere)), placeholder_prevs(a));
  SignedHead again = sign_head(terminal_a(), chain_a().back().event.seq, chain_a().back().event.hash);
  c["message/push_again"] = message(
      sync_request({{"seq", again.seq}, {"hash", to_hex(again.hash)}, {"sig", to_hex(again.signature)}}),
      {chain_a()[0].bytes, chain_a()[1].bytes});
  auto other = extend(terminal_a(), {}, "L1", {{"shift_open", {{"unit", "U2"}, {"date", "2026-11-16"}}}});
  c["message/push_equivocation"] =
      message(sync_request({{"seq", 1}, {"hash", kLastHash}, {"sig", kSignHere}}), {other[0].bytes});
  c["message/enroll_valid"] = message({{"type", "enroll"}, {"v", kProtocolVersion}, {"code", kValidCode}});
  c["message/enroll_unknown"] = message({{"type", "enroll"}, {"v", kProtocolVersion}, {"code", "0011223344556677"}});
  c["message/answer_empty"] = message(sync_answer(Json::array(), 11));
  c["message/answer_terminal_a"] =
      message(sync_answer(Json::array({placeholder_head(terminal_a().public_key(), a.back().event.seq)}), 16),
              placeholder_prevs(a));
  c["message/answer_signed"] = message(sync_answer(Json::array({signed_head(terminal_a(), a[0])}), 12), {a[0].bytes});
  c["message/answer_reference"] =
      message(sync_answer(Json::array({placeholder_head(site_signer().public_key(), ref.back().event.seq)}), 15),
              placeholder_prevs(ref));
  std::vector<Bytes> both = placeholder_prevs(ref);
  for (Bytes& e : placeholder_prevs(b)) both.push_back(std::move(e));
  c["message/answer_two_devices"] = message(
      sync_answer({placeholder_head(site_signer().public_key(), ref.back().event.seq),
                   placeholder_head(terminal_b().public_key(), b.back().event.seq)},
                  18),
      both);
  Json signer = {{"site", kSite}, {"key", to_hex(site_signer().public_key())}, {"sig", kSignHere}};
  const Json enrolled = {{"type", "enrolled"}, {"site", kSite}, {"units", {"U1"}}, {"server_ms", kNowMs}, {"signer", signer}};
  c["message/enrolled"] = message(enrolled);
  Delegation d = sign_delegation(server_key(), kSite, site_signer().public_key());
  Json real = enrolled;
  real["signer"]["sig"] = to_hex(d.signature);
  c["message/enrolled_signed"] = message(real);
  c["message/error_gap"] = message({{"type", "error"}, {"code", "gap"}, {"message", "expected seq 1"}, {"expected_seq", 1}});
  c["message/error_equivocation"] =
      message({{"type", "error"}, {"code", "equivocation"}, {"message", "event 1 of device 03a107bf differs"}});
  c["message/error_internal"] = message({{"type", "error"}, {"code", "internal"}, {"message", "retry later"}});
  c["message/revoked"] = message(
      {{"type", "revoked"},
       {"notice", {{"revoked_ms", kNowMs + 1000}, {"reason", "terminal stolen"}, {"sig", kSignHere}}},
       {"quarantined", 0}});
}

void add_envelopes(Corpus& c) {
  c["envelope/golden_request"] = golden("request_envelope");
  c["envelope/golden_response"] = golden("response_envelope");
  const Bytes pull = message(sync_request());
  c["envelope/request_terminal_b"] = must(
      detail::seal_request_with(terminal_b(), server_key().public_key(), pull, counting<32>(0x41), counting<24>(0x61)),
      "terminal B's request").wire;
  SealedRequest example = must(detail::seal_request_with(terminal_a(), server_key().public_key(), Bytes{},
                                                         counting<32>(0x40), counting<24>(0x60)),
                               "the worked example's request");
  const Bytes refusal = message({{"type", "error"}, {"code", "malformed"}, {"message", "no"}});
  c["envelope/response_error"] = must(detail::seal_response_with(example.context, refusal, counting<24>(0x79)),
                                      "an error response");
  c["envelope/response_empty"] = must(detail::seal_response_with(example.context, Bytes{}, counting<24>(0x7a)),
                                      "an empty response");
}

void add_events(Corpus& c) {
  for (const char* stem : {"value_false", "value_true", "value_int_1440", "value_int_minus_1", "value_string",
                           "value_list", "value_map", "event1_hours", "event2_correction", "push_event_shift_open"}) {
    c[std::string("event/golden_") + stem] = golden(stem);
  }
  std::vector<SealedEvent> all = chain_a();
  for (const auto& more : {more_of_a(), more_reference(), chain_b()}) all.insert(all.end(), more.begin(), more.end());
  all.insert(all.end(), signer_chain().begin(), signer_chain().begin() + 2);
  for (const SealedEvent& e : all) {
    c["event/" + e.event.kind + "_" + short_device(e.event.device) + "_" + std::to_string(e.event.seq)] = e.bytes;
  }
  Receipt r = sign_receipt(server_key(), terminal_a().public_key(), 2, chain_a()[1].event.hash, kNowMs);
  Json open = {{"unit", "U1"}, {"date", "2026-11-18"}, {"receipt", receipt_field(r)}};
  c["event/shift_open_with_receipt"] =
      next_event(terminal_a(), &chain_a().back(), "L1", "shift_open", open).bytes;
  c["event/body_shift_open"] = must(encode_value(open), "a body");
  c["event/body_worker"] = must(encode_value(reference_items()[6].second), "a body");
  c["event/value_texts"] = must(encode_value(Json{"2026-11-16", "22:30", "12.500", "0", hash_ref(Hash{})}), "texts");
}

void add_codes(Corpus& c) {
  const std::string code = enroll_code_text();
  c["enroll_code/code"] = text_bytes(code);
  std::string lower, spaced, confusable, typo = code;
  for (char ch : code) {
    lower += static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
    spaced += ch == '-' ? ' ' : ch;
    confusable += ch == '1' ? 'l' : ch == '0' ? 'O' : ch;
  }
  typo[0] = typo[0] == 'X' ? 'Y' : 'X';
  c["enroll_code/lower"] = text_bytes(lower);
  c["enroll_code/spaced"] = text_bytes(spaced);
  c["enroll_code/confusable"] = text_bytes(confusable);
  c["enroll_code/typo"] = text_bytes(typo);
}

// The first ```json block of docs/REFERENCE.md: the example reference file.
Bytes reference_example() {
  Bytes doc = read_file(std::string(SHIFTBOOK_DOCS_DIR) + "/REFERENCE.md");
  const std::string text(doc.begin(), doc.end());
  const std::string open = "```json\n";
  auto start = text.find(open);
  auto end = start == std::string::npos ? start : text.find("```", start + open.size());
  if (end == std::string::npos) fail("docs/REFERENCE.md has no ```json block");
  return text_bytes(text.substr(start + open.size(), end - start - open.size()));
}

void add_references(Corpus& c) {
  c["reference/docs_example"] = reference_example();
  c["reference/empty"] = text_bytes(
      R"({"format": "shiftbook-reference/1", "sites": [], "units": [], "periods": [], "products": [], )"
      R"("workers": [], "quotas": []})"
      "\n");
  c["reference/overlapping_periods"] = text_bytes(
      R"({"format": "shiftbook-reference/1", "sites": [{"id": "S1", "name": "Plant", "tz": "Europe/Berlin"}], )"
      R"("units": [{"id": "U1", "site": "S1", "name": "Press"}], "periods": [{"id": "A", "start": "2026-11-01", )"
      R"("end": "2026-11-30"}, {"id": "B", "start": "2026-11-30", "end": "2026-12-31"}], "products": [], )"
      R"("workers": [], "quotas": []})"
      "\n");
}

#if __has_include("shiftbook/bundle.h")
// A bundle of `kind` holding `envelopes` (a reply's answer the requests in order); with
// `placeholder`, its checksum is 32 0xff bytes that the bundle target fills in.
Bytes bundle(BundleKind kind, const std::vector<Bytes>& envelopes, bool placeholder) {
  BundleFile file;
  file.header.kind = kind;
  file.header.id = counting<kBundleIdBytes>(0xb0);
  file.header.server = server_key().public_key();
  file.header.device = terminal_a().public_key();
  file.header.ms = kNowMs;
  for (std::size_t i = 0; i < envelopes.size(); ++i) {
    file.entries.push_back({static_cast<std::uint32_t>(i), envelopes[i]});
  }
  std::ostringstream out;
  must(write_bundle(out, file), "a corpus bundle");
  Bytes bytes = text_bytes(out.str());
  if (placeholder) std::fill(bytes.end() - kBundleChecksumBytes, bytes.end(), kPrevByte);
  return bytes;
}

void add_bundles(Corpus& c) {
  std::vector<Bytes> requests, replies;
  std::uint8_t n = 0x30;
  for (const Bytes& plain : {message(sync_request()), message({{"type", "sync"}, {"v", 2}})}) {
    SealedRequest r = must(detail::seal_request_with(terminal_a(), server_key().public_key(), plain,
                                                     counting<32>(n), counting<24>(static_cast<std::uint8_t>(n + 1))),
                           "a bundled request");
    const Bytes answer = message({{"type", "error"}, {"code", "version"}, {"message", "version 2"}});
    replies.push_back(must(detail::seal_response_with(r.context, answer, counting<24>(static_cast<std::uint8_t>(n + 2))),
                           "a bundled answer"));
    requests.push_back(std::move(r.wire));
    n = static_cast<std::uint8_t>(n + 3);
  }
  c["bundle/request"] = bundle(BundleKind::kRequest, requests, false);
  c["bundle/request_fill_checksum"] = bundle(BundleKind::kRequest, requests, true);
  c["bundle/reply"] = bundle(BundleKind::kReply, replies, false);
  c["bundle/reply_fill_checksum"] = bundle(BundleKind::kReply, replies, true);
  c["bundle/empty_request"] = bundle(BundleKind::kRequest, {}, false);
}
#endif

Corpus make() {
  init_crypto();
  Corpus c;
  add_messages(c);
  add_envelopes(c);
  add_events(c);
  add_codes(c);
  add_references(c);
#if __has_include("shiftbook/bundle.h")
  add_bundles(c);
#endif
  return c;
}

std::vector<std::string> targets(const Corpus& c) {
  std::vector<std::string> out;
  for (const auto& [name, bytes] : c) {
    std::string t = name.substr(0, name.find('/'));
    if (out.empty() || out.back() != t) out.push_back(t);
  }
  return out;
}

int write(const Corpus& c, const std::string& dir) {
  for (const std::string& t : targets(c)) remove_folder(dir + "/" + t);
  for (const auto& [name, bytes] : c) {
    fs::create_directories(fs::path(dir + "/" + name).parent_path());
    std::ofstream out(dir + "/" + name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) fail("cannot write " + dir + "/" + name);
  }
  std::printf("shiftbook-fuzz-corpus: wrote %zu files into %s\n", c.size(), dir.c_str());
  return 0;
}

int compare(const Corpus& c, const std::string& dir) {
  int problems = 0;
  for (const std::string& t : targets(c)) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir + "/" + t, ec)) {
      const std::string name = t + "/" + entry.path().filename().string();
      if (!c.count(name)) {
        std::fprintf(stderr, "shiftbook-fuzz-corpus: %s/%s is not part of the corpus\n", dir.c_str(), name.c_str());
        ++problems;
      }
    }
  }
  for (const auto& [name, bytes] : c) {
    const std::string path = dir + "/" + name;
    if (!fs::is_regular_file(path)) {
      std::fprintf(stderr, "shiftbook-fuzz-corpus: %s is missing\n", path.c_str());
      ++problems;
    } else if (read_file(path) != bytes) {
      std::fprintf(stderr, "shiftbook-fuzz-corpus: %s differs from what the code makes now\n", path.c_str());
      ++problems;
    }
  }
  if (problems > 0) {
    std::fprintf(stderr, "shiftbook-fuzz-corpus: the seed corpus is stale; write it again with "
                         "'tools/fuzz --write-corpus' and commit it\n");
    return 1;
  }
  std::printf("shiftbook-fuzz-corpus: %s holds the %zu files of the corpus\n", dir.c_str(), c.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc == 3 ? argv[1] : "";
  if (mode != "--write" && mode != "--check") {
    std::fprintf(stderr, "usage: shiftbook-fuzz-corpus --write DIR | --check DIR\n");
    return 2;
  }
  const Corpus c = make();
  return mode == "--write" ? write(c, argv[2]) : compare(c, argv[2]);
}
