// How the soak reports what it did: see SoakFigures in soak_world.h.
#include <cmath>
#include <sstream>

#include "soak_world.h"

namespace shiftbook::soak {

Json SoakFigures::to_json() const {
  return Json{{"terminals", terminals},
              {"events_recorded", events_recorded},
              {"events_on_server", events_on_server},
              {"syncs", syncs},
              {"syncs_ok", syncs_ok},
              {"syncs_unreachable", syncs_unreachable},
              {"syncs_retry_later", syncs_retry_later},
              {"client_kills", client_kills},
              {"server_kills", server_kills},
              {"quiet_rounds", quiet_rounds},
              {"proxy", proxy},
              {"minutes", std::round(minutes * 100) / 100},
              {"work_dir", work_dir},
              {"ok", problems.empty()},
              {"problems", problems}};
}

std::string SoakFigures::to_text() const {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(2);
  out << "terminals: " << terminals << "; events: " << events_recorded << " recorded, " << events_on_server
      << " held by the server\n"
      << "syncs: " << syncs << " in the faulty phase (" << syncs_ok << " whole, " << syncs_unreachable
      << " unreachable or cut, " << syncs_retry_later << " told to retry later, " << client_kills
      << " SIGKILLed); the server SIGKILLed " << server_kills << " times\n";
  if (proxy.contains("faults")) {
    const Json& f = proxy["faults"];
    out << "faults injected: drop-request " << f.value("drop_request", 0) << ", drop-response "
        << f.value("drop_response", 0) << ", truncate-response " << f.value("truncate_response", 0)
        << ", duplicate-request " << f.value("duplicate_request", 0) << ", delay " << f.value("delay", 0)
        << ", reorder " << f.value("reorder", 0) << " (" << proxy.value("faults_total", 0) << " in all, over "
        << proxy.value("requests", 0) << " requests)\n";
  }
  out << "minutes: " << minutes << "; quiet rounds until converged: " << quiet_rounds << '\n';
  if (problems.empty()) {
    out << "ok: nothing lost or duplicated, every chain verifies, every replica converged\n";
  } else {
    out << problems.size() << " problem(s); the work folder is kept: " << work_dir << '\n';
    for (const std::string& p : problems) out << "  " << p << '\n';
  }
  return out.str();
}

}  // namespace shiftbook::soak
