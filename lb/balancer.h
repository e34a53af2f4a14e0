#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/socket.h"

namespace ringwire::lb {

// One backend as configured: "HOST:PORT" (numeric address or localhost) and a weight.
struct BackendSpec {
  core::Endpoint addr;
  std::string text;  // as the user wrote it, for logs: "127.0.0.1:9002"
  unsigned weight = 1;
};

// "HOST:PORT" or "HOST:PORT,weight=N" (--backend). Weight 1..1000.
std::expected<BackendSpec, std::string> parse_backend_arg(std::string_view text);
// A --backends file: one "HOST:PORT [weight]" per line, '#' starts a comment,
// blank lines ignored. The error names the file and line: "FILE:3: ...".
// An empty list is an error.
std::expected<std::vector<BackendSpec>, std::string> parse_backends_file(const std::string& path);

// Backend is one backend's shared state, seen by every worker and the
// health checker. Relays hold a shared_ptr, so a backend removed by a
// reload stays alive until its last relay ends.
class Backend {
 public:
  explicit Backend(BackendSpec spec) : spec_(std::move(spec)) {}
  const BackendSpec& spec() const noexcept { return spec_; }
  bool healthy() const noexcept { return healthy_.load(std::memory_order_relaxed); }
  uint32_t active() const noexcept { return active_.load(std::memory_order_relaxed); }
  // A relay to this backend starts / ends (leastconn counts these).
  void relay_started() noexcept { active_.fetch_add(1, std::memory_order_relaxed); }
  void relay_ended() noexcept { active_.fetch_sub(1, std::memory_order_relaxed); }

 private:
  friend class Balancer;
  BackendSpec spec_;
  std::atomic<bool> healthy_{true};
  std::atomic<uint32_t> active_{0};
  std::atomic<bool> removed_{false};
};

enum class Policy { RoundRobin, LeastConn, Maglev };
bool parse_policy(std::string_view text, Policy& out) noexcept;

// Balancer picks backends for new client connections. Shared by every
// worker and the health checker: every method is thread-safe.
class Balancer {
 public:
  // `rise` successes in a row bring a down backend up; `fall` failures in a
  // row take an up one down (--rise, --fall).
  Balancer(Policy policy, std::vector<BackendSpec> specs, unsigned rise = 2, unsigned fall = 3);

  // The backend for a client connecting from `client`, among the healthy,
  // not-removed backends not already in `tried` (backends whose connect just
  // failed for this client); nullptr when none is left.
  //  - RoundRobin: smooth weighted round robin (nginx's algorithm); with
  //    equal weights, N picks go exactly N/k to each of k backends.
  //  - LeastConn: fewest active() relays, ties broken round robin.
  //  - Maglev: the Maglev lookup table (NSDI 2016), size a prime >= 65537,
  //    keyed by a hash of the client's IP address (not its port), rebuilt
  //    when the healthy set changes; a tried backend is skipped by walking
  //    on to the next distinct entry.
  std::shared_ptr<Backend> pick(const core::Endpoint& client, const std::vector<const Backend*>& tried = {});

  // A connect to `b` (a relay's, or the health checker's probe) failed
  // (refused, timed out) or succeeded. Counted in a row against rise/fall;
  // a change is logged as "backend HOST:PORT is down (REASON)" / "... is up"
  // and rebuilds what the policy derives from the healthy set.
  void connect_failed(Backend& b, std::string_view reason);
  void connect_succeeded(Backend& b);

  // SIGHUP: the new list. Backends whose address is in both lists keep
  // their object (state, counters); new ones start healthy; removed ones are
  // marked removed (never picked again) and dropped from the list, living on
  // in the shared_ptrs of their relays.
  void reload(std::vector<BackendSpec> specs);

  // The current backends (not removed), for the health checker and logs.
  std::vector<std::shared_ptr<Backend>> backends() const;
  Policy policy() const noexcept { return policy_; }

 private:
  // (implementation-defined members: a mutex over the list and the policy
  // state, the smooth-weighted-round-robin current weights, the Maglev table)
  Policy policy_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Backend>> backends_;
};

// HealthChecker: one thread for the whole process. Every `interval_ms` it
// makes a nonblocking TCP connect to each backend (bounded by `timeout_ms`)
// and reports each outcome to the balancer (connect_succeeded/failed), which
// counts rise and fall.
class HealthChecker {
 public:
  HealthChecker(Balancer& balancer, int64_t interval_ms, int64_t timeout_ms);
  ~HealthChecker();  // stops and joins
  void start();
  void stop() noexcept;
};

}  // namespace ringwire::lb
