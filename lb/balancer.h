#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "core/socket.h"
#include "lb/backend.h"
#include "lb/backend_spec.h"
#include "lb/maglev_table.h"
#include "lb/policy.h"

namespace ringwire::lb {

// Balancer picks backends for new client connections. Shared by every
// worker and the health checker: every method is thread-safe.
//
// One mutex guards the backend list, the health counters and what each
// policy keeps (round-robin scores, the least-connections cursor, the Maglev
// table). A pick takes it once per new client connection, which costs far
// less than the connect that follows; what would need it per byte (active
// relay counts) lives in atomics on the Backend instead.
class Balancer {
 public:
  // `rise` successes in a row bring a down backend up; `fall` failures in a
  // row take an up one down (--rise, --fall). Zero counts as one.
  Balancer(Policy policy, std::vector<BackendSpec> specs, unsigned rise = 2, unsigned fall = 3);

  // The backend for a client connecting from `client`, among the healthy,
  // not-removed backends not already in `tried` (backends whose connect just
  // failed for this client); nullptr when none is left.
  //  - RoundRobin: smooth weighted round robin (nginx's algorithm); with
  //    equal weights, N picks go exactly N/k to each of k backends.
  //  - LeastConn: fewest active() relays (weighted: active/weight), ties
  //    broken round robin.
  //  - Maglev: the Maglev lookup table (NSDI 2016), size a prime >= 65537,
  //    keyed by a hash of the client's IP address (not its port), rebuilt
  //    when the healthy set changes; a tried backend is skipped by walking
  //    on to the next distinct entry.
  std::shared_ptr<Backend> pick(const core::Endpoint& client, const std::vector<const Backend*>& tried = {});

  // A connect to `b` (a relay's, or the health checker's probe) failed
  // (refused, timed out) or succeeded. Counted in a row against rise/fall;
  // a change is logged as "backend HOST:PORT is down (REASON)" / "... is up"
  // and rebuilds what the policy derives from the healthy set. Reports about
  // a removed backend are ignored.
  void connect_failed(Backend& b, std::string_view reason);
  void connect_succeeded(Backend& b);

  // SIGHUP: the new list. Backends whose address is in both lists keep
  // their object (state, counters; the new weight applies); new ones start
  // healthy; removed ones are marked removed (never picked again) and
  // dropped from the list, living on in the shared_ptrs of their relays.
  void reload(std::vector<BackendSpec> specs);

  // The current backends (not removed), for the health checker and logs.
  std::vector<std::shared_ptr<Backend>> backends() const;
  Policy policy() const noexcept { return policy_; }
  unsigned rise() const noexcept { return rise_; }
  unsigned fall() const noexcept { return fall_; }

  // The hash of a client's address that Maglev keys on (the IP only).
  static uint64_t client_hash(const core::Endpoint& client) noexcept;

 private:
  // Every *_locked method expects mu_ held.
  Backend* pick_round_robin_locked(const std::vector<const Backend*>& tried);
  Backend* pick_least_conn_locked(const std::vector<const Backend*>& tried);
  Backend* pick_maglev_locked(const core::Endpoint& client, const std::vector<const Backend*>& tried);
  // Recomputes what the policy derives from the healthy set.
  void rebuild_locked();
  std::shared_ptr<Backend> find_locked(const Backend* b) const;

  const Policy policy_;
  const unsigned rise_;
  const unsigned fall_;

  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Backend>> backends_;
  size_t least_conn_next_ = 0;  // where the next least-connections scan starts
  MaglevTable maglev_;
  // The members the Maglev table's entries index: the healthy backends at
  // the last rebuild, in list order.
  std::vector<std::shared_ptr<Backend>> maglev_members_;
};

}  // namespace ringwire::lb

// The health checker is part of the same contract; code written against
// "lb/balancer.h" alone finds it here.
#include "lb/health_checker.h"
