// Bundles without a server process: the file format (shiftbook/bundle.h) on its own, and the
// terminal's side (client/src/bundle.h) against a head office scripted in the test, which opens
// the requests with its key and seals answers as the server does. What the real server answers
// is tests/integration/bundle_test.cpp's.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "bundle.h"
#include "shiftbook/bundle.h"
#include "shiftbook/envelope.h"
#include "shiftbook/platform/files.h"
#include "shiftbook/protocol.h"
#include "support/fixture.h"

using namespace shiftbook;
using shiftbook::testing::kSampleNowMs;
using shiftbook::testing::Terminal;

namespace {

template <typename T>
T must(Result<T> r) {
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return std::move(r).value();
}

constexpr std::int64_t kDayMs = 86'400'000;

// ---- the format ---------------------------------------------------------------------------------

Bytes filler(std::size_t n, std::uint8_t seed) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed + i);
  return b;
}

BundleFile sample_file(BundleKind kind) {
  BundleFile f;
  f.header.kind = kind;
  f.header.id = BundleId{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  f.header.server[0] = 0xaa;
  f.header.device[0] = 0xbb;
  f.header.ms = kSampleNowMs;
  f.entries.push_back(BundleEntry{0, filler(200, 1)});
  f.entries.push_back(BundleEntry{kind == BundleKind::kReply ? 0u : 1u, filler(300, 2)});
  return f;
}

std::string written(const BundleFile& f) {
  std::ostringstream out;
  REQUIRE(write_bundle(out, f).is_ok());
  return out.str();
}

// What reading `bytes` as a bundle of `kind` says: "ok" or the refusal's code and message.
std::string read_verdict(const std::string& bytes, BundleKind kind) {
  std::istringstream in(bytes);
  auto reader = BundleReader::open(in, kind);
  if (!reader.is_ok()) return reader.status().to_string();
  Status checked = reader->check();
  return checked.is_ok() ? "ok" : checked.to_string();
}

// ---- a terminal and a head office scripted in the test ----------------------------------------

// An enrolled terminal with a shift and three outputs it recorded before enrollment, unsent, and
// the head office it is enrolled with.
struct World {
  Terminal t;
  DeviceKey server = DeviceKey::generate();
  std::uint64_t held = 0;  // what the scripted server holds of the terminal
  Hash held_hash{};

  World() {
    REQUIRE(t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
    for (int i = 1; i <= 3; ++i) REQUIRE(t.store->log_output("", "P1", i).is_ok());
    Delegation d = sign_delegation(server, "S1", derive_site_signer(server, "S1").public_key());
    REQUIRE(t.store->enroll("http://head-office.test", server.public_key(), "S1", {"U1"}, kSampleNowMs, d).is_ok());
  }

  std::string file(const std::string& name) const { return t.dir.file(name); }

  client::BundleExportReport export_to(const std::string& name) {
    client::BundleExportReport r;
    Status s = client::export_bundle(*t.store, t.clock, file(name), r);
    REQUIRE_MESSAGE(s.is_ok(), s.to_string());
    return r;
  }

  // A sync answer as the server gives it: a receipt for what it holds after the request's push,
  // no pulled events, the cursor `cursor`.
  Message sync_answer(const Message& request, std::uint64_t cursor, std::int64_t server_ms) {
    if (auto head = request.header.find("head"); head != request.header.end()) {
      held = std::max<std::uint64_t>(held, (*head)["seq"].get<std::uint64_t>());
      if (held == (*head)["seq"].get<std::uint64_t>()) held_hash = must(array_from_hex<32>((*head)["hash"].get<std::string>()));
    }
    Receipt r = sign_receipt(server, t.store->device(), held, held_hash, server_ms);
    Message m;
    m.header = Json{{"type", "sync"},
                    {"receipt", Json{{"seq", r.seq}, {"hash", to_hex(r.hash)}, {"server_ms", r.server_ms},
                                     {"sig", to_hex(r.signature)}}},
                    {"cursor", cursor},
                    {"more", false},
                    {"heads", Json::array()}};
    return m;
  }

  using Handler = std::function<Message(const Message& request, std::uint32_t part)>;
  // Answers every request of the bundle `request` with `handler` (default: sync_answer with
  // cursor 5) and writes the reply to `reply`.
  void answer(const std::string& request, const std::string& reply, Handler handler = {}) {
    if (!handler) handler = [this](const Message& m, std::uint32_t) { return sync_answer(m, 5, kSampleNowMs + 1000); };
    std::ifstream in(file(request), std::ios::binary);
    BundleReader reader = must(BundleReader::open(in, BundleKind::kRequest));
    REQUIRE(reader.check().is_ok());
    BundleFile out;
    out.header = reader.header();
    out.header.kind = BundleKind::kReply;
    for (;;) {
      std::optional<BundleEntry> e = must(reader.next());
      if (!e) break;
      OpenedRequest opened = must(open_request(server, e->envelope));
      Message answer = handler(must(decode_message(opened.plaintext)), e->part);
      out.entries.push_back(BundleEntry{e->part, must(seal_response(opened.context, must(encode_message(answer))))});
    }
    REQUIRE(write_file_atomic(file(reply), 0600, [&](std::ostream& o) { return write_bundle(o, out); }).is_ok());
  }

  Result<client::BundleImportReport> import(const std::string& reply) {
    client::BundleImportReport r;
    Status s = client::import_bundle_reply(*t.store, file(reply), r);
    if (!s.is_ok()) return s;
    return r;
  }

  // The hash of this terminal's event `seq`.
  Hash own_hash(std::uint64_t seq) const {
    return must(decode_event(must(t.store->raw_events(t.store->device()))[seq - 1])).hash;
  }

  // What a refused import must leave as it was: events, receipt, cursor.
  std::string footprint() const {
    client::SyncState s = must(t.store->sync_state());
    return std::to_string(s.own_seq) + "/" + std::to_string(s.receipt ? s.receipt->seq : 0) + "/" +
           std::to_string(s.cursor);
  }
};

// The bytes of a file, changed by `change`, written back.
void rewrite(const std::string& path, const std::function<void(std::string&)>& change) {
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    bytes = s.str();
  }
  change(bytes);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

}  // namespace

TEST_CASE("bundle format: a written bundle reads back, entry by entry, with its header") {
  for (BundleKind kind : {BundleKind::kRequest, BundleKind::kReply}) {
    const BundleFile f = sample_file(kind);
    const std::string bytes = written(f);
    CHECK(bytes.size() == bundle_size(f));
    std::istringstream in(bytes);
    BundleReader reader = must(BundleReader::open(in, kind));
    CHECK(reader.header().id == f.header.id);
    CHECK(reader.header().server == f.header.server);
    CHECK(reader.header().device == f.header.device);
    CHECK(reader.header().ms == kSampleNowMs);
    CHECK(reader.header().count == 2);
    REQUIRE(reader.check().is_ok());
    for (int pass = 0; pass < 2; ++pass) {
      for (const BundleEntry& want : f.entries) {
        std::optional<BundleEntry> got = must(reader.next());
        REQUIRE(got.has_value());
        CHECK(got->part == want.part);
        CHECK(got->envelope == want.envelope);
      }
      CHECK_FALSE(must(reader.next()).has_value());
      REQUIRE(reader.rewind().is_ok());
    }
  }
}

TEST_CASE("bundle format: a file cut short says how many bytes are missing") {
  const std::string bytes = written(sample_file(BundleKind::kRequest));
  // Inside the checksum, and inside the last entry: the lengths read tell exactly.
  CHECK(read_verdict(bytes.substr(0, bytes.size() - 10), BundleKind::kRequest) ==
        "invalid_argument: it is cut short (truncated): 10 bytes are missing; copy it again from where it was made");
  CHECK(read_verdict(bytes.substr(0, bytes.size() - 100), BundleKind::kRequest).find(": 100 bytes are missing") !=
        std::string::npos);
  // Inside the first of two entries: the second's length is unknown, so at least so many.
  const std::string early = read_verdict(bytes.substr(0, 150), BundleKind::kRequest);
  CHECK_MESSAGE(early.find("cut short (truncated): at least ") != std::string::npos, early);
  // Inside the header.
  CHECK(read_verdict(bytes.substr(0, 40), BundleKind::kRequest).find("at least 90 bytes are missing") !=
        std::string::npos);
}

TEST_CASE("bundle format: a changed or added byte is damage, found by the checksum or the framing") {
  std::string bytes = written(sample_file(BundleKind::kReply));
  std::string flipped = bytes;
  flipped[kBundleHeaderBytes + 20] ^= 0x01;  // inside the first envelope
  CHECK(read_verdict(flipped, BundleKind::kReply) ==
        "invalid_argument: it is damaged (its checksum does not match its content); copy it again from where it was "
        "made");
  CHECK(read_verdict(bytes + "x", BundleKind::kReply).find("damaged (1 bytes more than its 2 entries") !=
        std::string::npos);
  std::string length = bytes;
  length[kBundleHeaderBytes + 4] = 0x7f;  // the first answer's length: far more than a bundle may hold
  CHECK(read_verdict(length, BundleKind::kReply).find("which no envelope has") != std::string::npos);
}

TEST_CASE("bundle format: another file, another version, the other kind of bundle are named as such") {
  const std::string bytes = written(sample_file(BundleKind::kRequest));
  CHECK(read_verdict("", BundleKind::kRequest) == "invalid_argument: it is empty, not a Shiftbook bundle");
  CHECK(read_verdict("SBX\x01Q", BundleKind::kRequest) == "invalid_argument: it is not a Shiftbook bundle");
  CHECK(read_verdict("SBB", BundleKind::kRequest).find("cut short") != std::string::npos);
  std::string v2 = bytes;
  v2[4] = 2;
  CHECK(read_verdict(v2, BundleKind::kRequest).find("failed_precondition: it is a bundle of format version 2; this "
                                                    "program reads version 1") == 0);
  CHECK(read_verdict(bytes, BundleKind::kReply) ==
        "invalid_argument: it is a request bundle, not a reply bundle");
}

TEST_CASE("bundle format: the writer refuses entries out of order and what is not an envelope") {
  BundleFile f = sample_file(BundleKind::kReply);
  f.entries[0].part = 1;
  std::ostringstream out;
  CHECK(write_bundle(out, f).code() == Code::kInvalidArgument);
  BundleFile g = sample_file(BundleKind::kRequest);
  g.entries[1].envelope.resize(10);
  CHECK(write_bundle(out, g).code() == Code::kInvalidArgument);
}

TEST_CASE("bundle: export seals every unsent event as a sync request and keeps its key") {
  World w;
  client::BundleExportReport r = w.export_to("out.sbb");
  CHECK(r.events == 4);
  CHECK(r.first_seq == 1);
  CHECK(r.last_seq == 4);
  CHECK(r.parts == 1);
  CHECK(r.bytes == must(read_file_bytes(w.file("out.sbb"))).size());

  std::ifstream in(w.file("out.sbb"), std::ios::binary);
  BundleReader reader = must(BundleReader::open(in, BundleKind::kRequest));
  REQUIRE(reader.check().is_ok());
  CHECK(reader.header().device == w.t.store->device());
  CHECK(reader.header().server == w.server.public_key());
  CHECK(reader.header().ms == kSampleNowMs);
  BundleEntry e = *must(reader.next());
  Message request = must(decode_message(must(open_request(w.server, e.envelope)).plaintext));
  CHECK(request.header["type"] == "sync");
  CHECK(request.header["cursor"] == 0);
  CHECK(request.header["pull_max"] == kMaxPullBytes);
  CHECK(request.header["head"]["seq"] == 4);
  CHECK(request.events.size() == 4);

  client::BundleRecord kept = must(w.t.store->bundle(r.id));
  REQUIRE(kept.parts.size() == 1);
  CHECK(kept.parts[0].first_seq == 1);
  CHECK(kept.parts[0].head->seq == 4);
  CHECK(kept.exported_ms == kSampleNowMs);
}

TEST_CASE("bundle: with nothing unsent, export is one request to pull") {
  World w;
  w.export_to("a.sbb");
  w.answer("a.sbb", "a.reply");
  must(w.import("a.reply"));
  client::BundleExportReport r = w.export_to("b.sbb");
  CHECK(r.events == 0);
  CHECK(r.parts == 1);
  CHECK(must(w.t.store->bundle(r.id)).parts[0].head == std::nullopt);
}

TEST_CASE("bundle: a reply is taken like an HTTP answer, and taking it again changes nothing") {
  World w;
  w.export_to("a.sbb");
  w.answer("a.sbb", "a.reply");
  client::BundleImportReport first = must(w.import("a.reply"));
  CHECK(first.pushed == 4);
  CHECK(first.answers == 1);
  CHECK(first.server_seq == 4);
  CHECK(first.unsynced == 0);
  CHECK(w.footprint() == "4/4/5");
  client::BundleImportReport again = must(w.import("a.reply"));
  CHECK(again.pushed == 0);
  CHECK(again.pulled == 0);
  CHECK(w.footprint() == "4/4/5");
}

TEST_CASE("bundle: a reply taken whole is the last successful sync that status shows, a refused one is no attempt") {
  World w;
  w.export_to("a.sbb");
  w.answer("a.sbb", "a.reply");
  CHECK(must(w.t.store->status())["sync_health"].is_null());
  // A reply cut short is refused before anything is taken, and is no sync attempt.
  std::filesystem::copy_file(w.file("a.reply"), w.file("short.reply"));
  rewrite(w.file("short.reply"), [](std::string& bytes) { bytes.resize(bytes.size() - 40); });
  CHECK_FALSE(w.import("short.reply").is_ok());
  CHECK(must(w.t.store->status())["sync_health"].is_null());
  must(w.import("a.reply"));
  const Json health = must(w.t.store->status())["sync_health"];
  CHECK(health["last_outcome"] == "ok");
  CHECK(health["last_success_ms"] == w.t.clock.now_ms());
  CHECK(health["failures"] == 0);
}

TEST_CASE("bundle: replies taken out of order keep the newer receipt and the further cursor") {
  World w;
  w.export_to("a.sbb");
  w.export_to("b.sbb");
  // Head office answers b first (it holds 1..4 since, and pulls on to 9), then a again (held already).
  w.answer("b.sbb", "b.reply", [&](const Message& m, std::uint32_t) { return w.sync_answer(m, 9, kSampleNowMs + 2000); });
  w.answer("a.sbb", "a.reply", [&](const Message& m, std::uint32_t) { return w.sync_answer(m, 5, kSampleNowMs + 1000); });
  CHECK(must(w.import("b.reply")).pushed == 4);
  CHECK(must(w.import("a.reply")).pushed == 0);
  CHECK(w.footprint() == "4/4/9");
  CHECK(must(w.t.store->sync_state()).receipt->server_ms == kSampleNowMs + 2000);
}

TEST_CASE("bundle: a receipt for more than the request pushed is taken when it names this terminal's event") {
  World w;
  client::PushBatch two = must(w.t.store->next_push(std::nullopt, 400));  // not all four events
  REQUIRE(two.head.has_value());
  REQUIRE(two.head->seq < 4);
  Message request;
  request.header = Json{{"head", Json{{"seq", 4}, {"hash", to_hex(w.own_hash(4))}}}};
  client::SyncAccepted a = must(w.t.store->accept_sync(two, w.sync_answer(request, 3, kSampleNowMs + 10)));
  CHECK(a.receipt.seq == 4);
  CHECK(a.pushed == 4);
  // An older receipt, and a lower cursor, leave the newer ones.
  w.held = 2;
  w.held_hash = w.own_hash(2);
  client::SyncAccepted b = must(w.t.store->accept_sync(client::PushBatch{}, w.sync_answer(Message{}, 1, kSampleNowMs + 20)));
  CHECK(b.receipt.seq == 4);
  CHECK(b.pushed == 0);
  CHECK(w.footprint() == "4/4/3");
  // A receipt that names another event at that seq is still refused.
  w.held = 4;
  w.held_hash = Hash{7};
  auto bad = w.t.store->accept_sync(client::PushBatch{}, w.sync_answer(Message{}, 3, kSampleNowMs + 30));
  CHECK(bad.status().code() == Code::kDataLoss);
}

TEST_CASE("bundle: a reply for another server or terminal, tampered or cut short stores nothing") {
  World w;
  w.export_to("a.sbb");
  w.answer("a.sbb", "a.reply");
  const std::string before = w.footprint();
  auto refused = [&](const std::function<void(std::string&)>& change, Code code, const std::string& words) {
    std::filesystem::copy_file(w.file("a.reply"), w.file("x.reply"), std::filesystem::copy_options::overwrite_existing);
    rewrite(w.file("x.reply"), change);
    auto r = w.import("x.reply");
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == code);
    CHECK_MESSAGE(r.status().message().find(words) != std::string::npos, r.status().message());
    CHECK(w.footprint() == before);
  };
  // The checksum is made again after each change, as someone who meant it would.
  auto fix_checksum = [](std::string& b) {
    Hash h = blake2b_256(as_bytes(std::string_view(b).substr(0, b.size() - 32)));
    b.replace(b.size() - 32, 32, std::string(h.begin(), h.end()));
  };
  SUBCASE("one byte flipped inside an answer") {
    refused([&](std::string& b) { b[kBundleHeaderBytes + 40] ^= 1; fix_checksum(b); }, Code::kUnauthenticated,
            "does not open with the key of the request it answers");
  }
  SUBCASE("another server") {
    refused([&](std::string& b) { b[22] ^= 1; fix_checksum(b); }, Code::kInvalidArgument,
            "meant for another server");
  }
  SUBCASE("another terminal") {
    refused([&](std::string& b) { b[54] ^= 1; fix_checksum(b); }, Code::kInvalidArgument, "meant for terminal");
  }
  SUBCASE("cut short") {
    refused([](std::string& b) { b.resize(b.size() - 33); }, Code::kInvalidArgument, "33 bytes are missing");
  }
  SUBCASE("damaged") {
    refused([](std::string& b) { b[kBundleHeaderBytes + 40] ^= 1; }, Code::kInvalidArgument, "damaged");
  }
  SUBCASE("a request bundle given as a reply") {
    std::filesystem::copy_file(w.file("a.sbb"), w.file("x.reply"), std::filesystem::copy_options::overwrite_existing);
    auto r = w.import("x.reply");
    CHECK(r.status().message().find("a request bundle, not a reply bundle") != std::string::npos);
  }
}

TEST_CASE("bundle: a reply to a bundle too old or never exported is refused, saying to export a new one") {
  World w;
  SUBCASE("30 days after the export") {
    w.export_to("a.sbb");
    w.answer("a.sbb", "a.reply");
    w.t.clock.advance(client::kBundleKeepDays * kDayMs + 1);
    auto r = w.import("a.reply");
    CHECK(r.status().code() == Code::kFailedPrecondition);
    CHECK(r.status().message().find("exported on 2026-11-16, which is too old: its keys are kept 30 days") !=
          std::string::npos);
    CHECK(r.status().message().find("export a new bundle") != std::string::npos);
    CHECK(w.footprint() == "4/0/0");
  }
  SUBCASE("after 16 later exports") {
    w.export_to("a.sbb");
    w.answer("a.sbb", "a.reply");
    for (int i = 0; i < client::kBundleKeepCount; ++i) w.export_to("later.sbb");
    auto r = w.import("a.reply");
    CHECK(r.status().message().find("keys are kept for the 16 latest exports only") != std::string::npos);
    CHECK(w.footprint() == "4/0/0");
    w.answer("later.sbb", "later.reply");
    CHECK(must(w.import("later.reply")).pushed == 4);
  }
  SUBCASE("never exported here") {
    w.export_to("a.sbb");
    w.answer("a.sbb", "a.reply");
    rewrite(w.file("a.reply"), [](std::string& b) {
      b[6] ^= 1;  // the bundle id
      Hash h = blake2b_256(as_bytes(std::string_view(b).substr(0, b.size() - 32)));
      b.replace(b.size() - 32, 32, std::string(h.begin(), h.end()));
    });
    auto r = w.import("a.reply");
    CHECK(r.status().code() == Code::kFailedPrecondition);
    CHECK(r.status().message().find("which this terminal never exported") != std::string::npos);
    CHECK(w.footprint() == "4/0/0");
  }
}

TEST_CASE("bundle: head office's refusal of a request is reported with its words, the rest is taken") {
  World w;
  w.export_to("a.sbb");
  w.answer("a.sbb", "a.reply", [](const Message&, std::uint32_t) {
    Message m;
    m.header = Json{{"type", "error"}, {"code", "scope"}, {"message", "event 2 of device 1234abcd: unit 'U9' is not one of this terminal's units (U1)"}};
    return m;
  });
  client::BundleImportReport r;
  Status s = client::import_bundle_reply(*w.t.store, w.file("a.reply"), r);
  CHECK(s.code() == Code::kFailedPrecondition);
  CHECK_MESSAGE(s.message().find("head office refused request 1 of bundle") != std::string::npos, s.message());
  CHECK(s.message().find("scope: event 2 of device 1234abcd") != std::string::npos);
  REQUIRE(r.refused.size() == 1);
  CHECK(r.refused[0].code == "scope");
  CHECK(w.footprint() == "4/0/0");
}
