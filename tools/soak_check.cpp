// Reading back the terminals' and the server's chains: see soak_check.h.
#include "soak_check.h"

#include <optional>

#include "shiftbook/bytes.h"
#include "shiftbook/event.h"
#include "shiftbook/platform/db.h"

namespace shiftbook::soak {
namespace {

std::string hex_of(const Bytes& b) { return to_hex(ByteView(b)); }

Hash hash_of(const Bytes& b) {
  Hash h{};
  if (b.size() == h.size()) std::copy(b.begin(), b.end(), h.begin());
  return h;
}

// Reads (device, seq, hash) rows in device and seq order into chains, refusing gaps.
Result<Chains> read_chains(Stmt st, const std::string& where) {
  Chains out;
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    const std::string device = hex_of(st.blob(0));
    const auto seq = static_cast<std::uint64_t>(st.int64(1));
    Chain& chain = out[device];
    if (seq != chain.size() + 1) {
      return data_loss(where + " holds event " + std::to_string(seq) + " of device " + device.substr(0, 8) +
                       " after " + std::to_string(chain.size()) + " events: the chain has a gap or a repeat");
    }
    chain.push_back(hash_of(st.blob(2)));
  }
  return out;
}

struct ChainRow {
  std::int64_t id = 0;
  PublicKey device{};
  std::uint64_t seq = 0;
  Hash hash{};
};

// Re-checks one server chain from its raw events; the chain of hashes.
Result<Chain> verify_server_chain(Db& db, const ChainRow& c) {
  const std::string who = "the server's chain of device " + short_device(c.device);
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT seq, hash, raw FROM events WHERE chain = ? ORDER BY seq"));
  st.bind(1, c.id);
  Chain chain;
  std::optional<Event> previous;
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    const Bytes raw = st.blob(2);
    auto e = decode_event(ByteView(raw));
    if (!e.is_ok()) return data_loss(who + ": event " + std::to_string(st.int64(0)) + " does not decode: " + e.status().message());
    if (e->device != c.device || e->seq != static_cast<std::uint64_t>(st.int64(0)) || e->hash != hash_of(st.blob(1))) {
      return data_loss(who + ": " + event_name(c.device, e->seq) + " does not match the columns stored beside it");
    }
    SB_RETURN_IF_ERROR(check_link(previous ? &*previous : nullptr, *e).with_context(who));
    chain.push_back(e->hash);
    previous = std::move(*e);
  }
  if (chain.size() != c.seq || (c.seq > 0 && chain.back() != c.hash)) {
    return data_loss(who + " ends at seq " + std::to_string(c.seq) + " but holds " + std::to_string(chain.size()) +
                     " events");
  }
  return chain;
}

// Every signed head stored for the chain verifies and names one of its events; the last is its end.
Status verify_server_heads(Db& db, const ChainRow& c, const Chain& chain) {
  const std::string who = "the server's chain of device " + short_device(c.device);
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT seq, hash, signature FROM heads WHERE chain = ? ORDER BY last_pos"));
  st.bind(1, c.id);
  std::uint64_t last = 0;
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    SignedHead h;
    h.device = c.device;
    h.seq = static_cast<std::uint64_t>(st.int64(0));
    h.hash = hash_of(st.blob(1));
    const Bytes sig = st.blob(2);
    if (sig.size() != h.signature.size()) return data_loss(who + ": a stored head's signature has the wrong size");
    std::copy(sig.begin(), sig.end(), h.signature.begin());
    if (h.seq == 0 || h.seq > chain.size() || chain[h.seq - 1] != h.hash) {
      return data_loss(who + ": the signed head at seq " + std::to_string(h.seq) + " names no event of the chain");
    }
    if (!verify_head(h)) return data_loss(who + ": the signed head at seq " + std::to_string(h.seq) + " does not verify");
    if (h.seq <= last) return data_loss(who + ": the signed heads do not advance (seq " + std::to_string(h.seq) + ")");
    last = h.seq;
  }
  if (last != chain.size()) {
    return data_loss(who + ": the last signed head is at seq " + std::to_string(last) + ", not at the chain's end " +
                     std::to_string(chain.size()));
  }
  return Status::ok();
}

}  // namespace

Result<std::string> terminal_device(const std::string& store_dir) {
  SB_ASSIGN_OR_RETURN(Db db, Db::open(store_dir + "/terminal.db", false));
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT value FROM meta WHERE key = 'device'"));
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return data_loss("the store in " + store_dir + " has no device key");
  return hex_of(st.blob(0));
}

Result<Chains> terminal_chains(const std::string& store_dir) {
  SB_ASSIGN_OR_RETURN(Db db, Db::open(store_dir + "/terminal.db", false));
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT device, seq, hash FROM events ORDER BY device, seq"));
  return read_chains(std::move(st), "the store in " + store_dir);
}

Result<ServerChains> verified_server_chains(const std::string& server_dir) {
  SB_ASSIGN_OR_RETURN(Db db, Db::open(server_dir + "/server.db", false));
  SB_ASSIGN_OR_RETURN(ReadSnapshot snapshot, ReadSnapshot::begin(db));
  ServerChains out;
  std::vector<ChainRow> rows;
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT id, device, seq, hash FROM chains ORDER BY id"));
    for (;;) {
      SB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      rows.push_back(ChainRow{st.int64(0), st.blob32(1), static_cast<std::uint64_t>(st.int64(2)), st.blob32(3)});
    }
  }
  for (const ChainRow& c : rows) {
    SB_ASSIGN_OR_RETURN(Chain chain, verify_server_chain(db, c));
    SB_RETURN_IF_ERROR(verify_server_heads(db, c, chain));
    out.chains[to_hex(c.device)] = std::move(chain);
  }
  SB_ASSIGN_OR_RETURN(Stmt devices, db.prepare("SELECT d.key, r.seq, r.hash FROM devices d "
                                               "LEFT JOIN receipts r ON r.device = d.key ORDER BY d.key"));
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, devices.step());
    if (!row) break;
    const std::string device = hex_of(devices.blob(0));
    out.terminals.push_back(device);
    const Chain& chain = out.chains[device];
    const auto receipt_seq = devices.is_null(1) ? 0 : static_cast<std::uint64_t>(devices.int64(1));
    if (receipt_seq != chain.size() || (receipt_seq > 0 && hash_of(devices.blob(2)) != chain.back())) {
      return data_loss("the server's last receipt for device " + device.substr(0, 8) + " is at seq " +
                       std::to_string(receipt_seq) + ", not at its chain's end " + std::to_string(chain.size()));
    }
  }
  return out;
}

std::vector<std::string> compare_replicas(const std::vector<TerminalRecord>& terminals, const ServerChains& server,
                                          std::uint64_t& on_server) {
  std::vector<std::string> problems;
  if (server.terminals.size() != terminals.size()) {
    problems.push_back("the server has " + std::to_string(server.terminals.size()) + " terminals enrolled, not " +
                       std::to_string(terminals.size()));
  }
  for (const TerminalRecord& t : terminals) {
    const std::string name = "terminal " + t.device.substr(0, 8);
    auto held = terminal_chains(t.store);
    if (!held.is_ok()) {
      problems.push_back(held.status().message());
      continue;
    }
    const Chain& own = (*held)[t.device];
    const auto at = server.chains.find(t.device);
    const Chain on_server_chain = at == server.chains.end() ? Chain{} : at->second;
    on_server += on_server_chain.size();
    if (own.size() != t.events) {
      problems.push_back(name + " holds " + std::to_string(own.size()) + " events of its own, but " +
                         std::to_string(t.events) + " commands that record one succeeded");
    }
    if (on_server_chain != own) {
      problems.push_back("the server holds " + std::to_string(on_server_chain.size()) + " events of " + name +
                         ", which holds " + std::to_string(own.size()) +
                         (on_server_chain.size() == own.size() ? " (with different hashes)" : ""));
    }
    for (const auto& [device, chain] : server.chains) {
      if (device != t.device && (*held)[device] != chain) {
        problems.push_back(name + " holds " + std::to_string((*held)[device].size()) + " events of device " +
                           device.substr(0, 8) + ", the server " + std::to_string(chain.size()));
      }
    }
    for (const auto& [device, chain] : *held) {
      if (!chain.empty() && !server.chains.contains(device)) {
        problems.push_back(name + " holds " + std::to_string(chain.size()) + " events of device " +
                           device.substr(0, 8) + ", which the server does not know");
      }
    }
  }
  return problems;
}

}  // namespace shiftbook::soak
