// Service::bundle through its public surface: request bundles built the way a terminal builds
// them (service_world.h), the reply read back and each answer opened with the key of the request
// it answers. The programs around it are tests/integration/bundle_test.cpp's.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "service_world.h"
#include "shiftbook/bundle.h"

namespace {

using namespace shiftbook::service_world;

// A request bundle of `t` holding `requests`, sealed for the head office; the contexts open the
// answers.
struct Request {
  std::string bytes;
  std::vector<EnvelopeContext> contexts;
};
Request bundle_of(HeadOffice& ho, const Terminal& t, const std::vector<Message>& requests) {
  Request out;
  BundleFile f;
  f.header.kind = BundleKind::kRequest;
  f.header.id = BundleId{9, 8, 7};
  f.header.server = ho.key();
  f.header.device = t.device();
  for (const Message& m : requests) {
    out.contexts.emplace_back();
    f.entries.push_back(BundleEntry{static_cast<std::uint32_t>(f.entries.size()), seal(t.key, ho.key(), m, out.contexts.back())});
  }
  std::ostringstream s;
  REQUIRE(write_bundle(s, f).is_ok());
  out.bytes = s.str();
  return out;
}

// The reply's answers, opened, with the request each answers.
struct Answered {
  std::uint32_t part = 0;
  Message message;
};
std::vector<Answered> answers_of(const BundleFile& reply, const Request& request) {
  std::vector<Answered> out;
  for (const BundleEntry& e : reply.entries) {
    REQUIRE(e.part < request.contexts.size());
    auto plain = open_response(request.contexts[e.part], e.envelope);
    REQUIRE_MESSAGE(plain.is_ok(), plain.status().to_string());
    out.push_back(Answered{e.part, *decode_message(*plain)});
  }
  return out;
}

Result<BundleFile> answer(HeadOffice& ho, const Request& request, server::BundleReport& report,
                          std::size_t reply_max = 64 << 20) {
  std::istringstream in(request.bytes);
  return ho.service->bundle(in, reply_max, report);
}

// Terminal `b` of U1 pushes `pushes` pushes of `per` hours entries each, so that a terminal of U1
// has that much to pull.
void fill(HeadOffice& ho, Terminal& b, int pushes, int per) {
  const Hash shift = b.open_shift("U1");
  std::size_t from = 1;
  for (int p = 0; p < pushes; ++p) {
    for (int i = 0; i < per; ++i) b.hours(shift, (p * per + i) % 1000);
    REQUIRE(push(ho, b, from, b.chain.size()).type() == "sync");
    from = b.chain.size() + 1;
  }
}

}  // namespace

TEST_CASE("service bundle: requests are answered in order, each pulling on from the one before") {
  HeadOffice ho;
  Terminal a, b;
  enroll(ho, a, "S1", {"U1"});
  enroll(ho, b, "S1", {"U1"});
  fill(ho, b, 1, 3);
  const Hash shift = a.open_shift("U1");
  for (int i = 0; i < 3; ++i) a.hours(shift, 60 * i);
  Request request = bundle_of(ho, a, {sync_message(a, 1, 2), sync_message(a, 3, 4)});
  server::BundleReport report;
  BundleFile reply = *answer(ho, request, report);
  CHECK(reply.header.kind == BundleKind::kReply);
  CHECK(reply.header.id == BundleId{9, 8, 7});
  CHECK(reply.header.device == a.device());
  CHECK(report.requests == 2);
  CHECK(report.pushed == 4);
  CHECK(report.server_seq == 4);
  CHECK(report.refused.empty());
  CHECK_FALSE(report.more);
  std::vector<Answered> got = answers_of(reply, request);
  REQUIRE(got.size() == 2);
  CHECK(receipt_of(Answer{{}, got[0].message}, a.device()).seq == 2);
  CHECK(receipt_of(Answer{{}, got[1].message}, a.device()).seq == 4);
  // The first answer pulled everything (the site's plan and b's chain); the second pulls on after it.
  CHECK(got[0].message.events.size() > 4);
  CHECK(got[1].message.events.empty());
  CHECK(got[1].message.header["cursor"].get<std::uint64_t>() >= got[0].message.header["cursor"].get<std::uint64_t>());
  REQUIRE(report.log_lines.size() == 2);
  CHECK(report.log_lines[1].find("bundle 09080700 request 2 of 2 pushed 2 (seq 3..4)") != std::string::npos);

  // Answered again: nothing pushed twice, the receipt for all that is held.
  server::BundleReport again;
  BundleFile second = *answer(ho, request, again);
  CHECK(again.pushed == 0);
  CHECK(receipt_of(Answer{{}, answers_of(second, request)[0].message}, a.device()).seq == 4);
}

TEST_CASE("service bundle: more to pull is answered to the last request, within the reply's bound") {
  HeadOffice ho;
  Terminal a, b;
  enroll(ho, a, "S1", {"U1"});
  enroll(ho, b, "S1", {"U1"});
  fill(ho, b, 8, 150);  // about 8 pushes of 30 KiB
  const std::int64_t small = static_cast<std::int64_t>(kMinPullBytes);
  Request request = bundle_of(ho, a, {sync_message(a, 0, 0, 0, small)});

  server::BundleReport all;
  BundleFile whole = *answer(ho, request, all);
  CHECK(all.answers > 2);
  CHECK_FALSE(all.more);
  std::size_t pulled = 0;
  for (const Answered& x : answers_of(whole, request)) {
    CHECK(x.part == 0);
    pulled += x.message.events.size();
  }
  CHECK(pulled == all.pulled);
  CHECK(pulled >= b.chain.size());
  CHECK(answers_of(whole, request).back().message.header["more"] == false);

  server::BundleReport bounded;
  const std::size_t bound = 160 * 1024;
  BundleFile part = *answer(ho, request, bounded, bound);
  CHECK(bounded.more);
  CHECK(bounded.answers < all.answers);
  CHECK(bounded.answers >= 2);
  CHECK(bundle_size(part) <= bound);
  CHECK(answers_of(part, request).back().message.header["more"] == true);
}

TEST_CASE("service bundle: a refused request is answered with its refusal, and the next is still answered") {
  HeadOffice ho;
  Terminal a;
  enroll(ho, a, "S1", {"U1"});
  a.open_shift("U9");  // another site's unit: refused as scope
  const Hash shift = a.open_shift("U1");
  a.hours(shift);
  Request request = bundle_of(ho, a, {sync_message(a, 1, 1), sync_message(a, 2, 3)});
  server::BundleReport report;
  BundleFile reply = *answer(ho, request, report);
  REQUIRE(report.refused.size() == 2);
  CHECK(report.refused[0].part == 0);
  CHECK(report.refused[0].code == "scope");
  CHECK(report.refused[1].part == 1);
  CHECK(report.refused[1].code == "gap");
  CHECK(report.pushed == 0);
  std::vector<Answered> got = answers_of(reply, request);
  REQUIRE(got.size() == 2);
  CHECK(got[1].message.header["expected_seq"] == 1);
}

TEST_CASE("service bundle: a request that does not open, another server's bundle and a stranger's store nothing") {
  HeadOffice ho;
  Terminal a, stranger;
  enroll(ho, a, "S1", {"U1"});
  a.open_shift("U1");
  server::BundleReport report;

  Request tampered = bundle_of(ho, a, {sync_message(a, 1, 1)});
  tampered.bytes[kBundleHeaderBytes + 4 + 120] ^= 1;
  const Hash sum = blake2b_256(as_bytes(std::string_view(tampered.bytes).substr(0, tampered.bytes.size() - 32)));
  tampered.bytes.replace(tampered.bytes.size() - 32, 32, std::string(sum.begin(), sum.end()));
  auto r = answer(ho, tampered, report);
  CHECK(r.status().code() == Code::kUnauthenticated);
  CHECK(r.status().message().find("request 1 of 1 does not open with this server's key") != std::string::npos);

  HeadOffice other;
  Request elsewhere = bundle_of(other, a, {sync_message(a, 1, 1)});
  auto e = answer(ho, elsewhere, report);
  CHECK(e.status().code() == Code::kInvalidArgument);
  CHECK(e.status().message().find("meant for the server with fingerprint " + format_fingerprint(other.key())) !=
        std::string::npos);

  auto s = answer(ho, bundle_of(ho, stranger, {sync_message(stranger, 0, 0)}), report);
  CHECK(s.status().code() == Code::kFailedPrecondition);
  CHECK(s.status().message().find("not enrolled with this server; enroll it first") != std::string::npos);
  CHECK(ho.device(a.device()).seq == 0);
}
