#include "lb/balancer.h"

#include <algorithm>
#include <unordered_map>

#include "core/log.h"

namespace ringwire::lb {
namespace {

bool in(const std::vector<const Backend*>& tried, const Backend* b) {
  return std::find(tried.begin(), tried.end(), b) != tried.end();
}

constexpr uint64_t kClientSeed = 0x636c69656e742d69ULL;

}  // namespace

Balancer::Balancer(Policy policy, std::vector<BackendSpec> specs, unsigned rise, unsigned fall)
    : policy_(policy), rise_(std::max(rise, 1u)), fall_(std::max(fall, 1u)) {
  std::unordered_map<std::string, bool> seen;
  for (auto& spec : specs) {
    auto b = std::make_shared<Backend>(std::move(spec));
    if (!seen.emplace(b->key_, true).second) {
      RW_LOG_WARN("backend {} is listed twice; using the first", b->spec().text);
      continue;
    }
    backends_.push_back(std::move(b));
  }
  std::lock_guard lock(mu_);
  rebuild_locked();
}

uint64_t Balancer::client_hash(const core::Endpoint& client) noexcept {
  if (client.addr.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(client.addr).sin6_addr;
    return hash_bytes(&a, sizeof a, kClientSeed);
  }
  const auto& a = reinterpret_cast<const sockaddr_in&>(client.addr).sin_addr;
  return hash_bytes(&a, sizeof a, kClientSeed);
}

std::shared_ptr<Backend> Balancer::pick(const core::Endpoint& client, const std::vector<const Backend*>& tried) {
  std::lock_guard lock(mu_);
  Backend* b = nullptr;
  switch (policy_) {
    case Policy::RoundRobin: b = pick_round_robin_locked(tried); break;
    case Policy::LeastConn: b = pick_least_conn_locked(tried); break;
    case Policy::Maglev: b = pick_maglev_locked(client, tried); break;
  }
  return b ? find_locked(b) : nullptr;
}

std::shared_ptr<Backend> Balancer::find_locked(const Backend* b) const {
  for (const auto& p : backends_)
    if (p.get() == b) return p;
  return nullptr;
}

// nginx's smooth weighted round robin (ngx_http_upstream_get_peer): every
// candidate's score grows by its weight, the highest score wins and pays back
// the sum of the weights. Over one period of sum(weights) picks each backend
// wins exactly its weight times, spread out rather than in runs, and with
// equal weights the scores return to zero after every k picks, so N picks
// split exactly N/k. Backends that cannot be picked sit the round out, as in
// nginx, so their scores do not build up while they are down.
Backend* Balancer::pick_round_robin_locked(const std::vector<const Backend*>& tried) {
  Backend* best = nullptr;
  int64_t total = 0;
  for (const auto& p : backends_) {
    Backend& b = *p;
    if (!b.healthy() || in(tried, &b)) continue;
    b.current_weight_ += b.weight_;
    total += b.weight_;
    if (!best || b.current_weight_ > best->current_weight_) best = &b;
  }
  if (best) best->current_weight_ -= total;
  return best;
}

// The scan starts one past the previous winner, and only a strictly better
// backend displaces the first candidate, so equally loaded backends take
// turns. Loads compare as active/weight, cross-multiplied to stay in
// integers; with equal weights that is plain "fewest active relays". The
// active counts move under us (other workers' relays end without the lock),
// which only makes a pick slightly stale, never wrong.
Backend* Balancer::pick_least_conn_locked(const std::vector<const Backend*>& tried) {
  const size_t n = backends_.size();
  Backend* best = nullptr;
  uint64_t best_active = 0;
  size_t best_index = 0;
  for (size_t j = 0; j < n; ++j) {
    size_t i = (least_conn_next_ + j) % n;
    Backend& b = *backends_[i];
    if (!b.healthy() || in(tried, &b)) continue;
    uint64_t active = b.active();
    if (!best || active * best->weight_ < best_active * b.weight_) {
      best = &b;
      best_active = active;
      best_index = i;
    }
  }
  if (best) least_conn_next_ = best_index + 1;
  return best;
}

// The table holds only healthy backends, so the slot a client hashes to is
// its backend. When that one is in `tried`, the walk goes on to the following
// slots, which hold other backends in an order that is itself a function of
// the client, so retries of one client stay consistent too.
Backend* Balancer::pick_maglev_locked(const core::Endpoint& client, const std::vector<const Backend*>& tried) {
  if (maglev_.empty()) return nullptr;
  bool any = false;
  for (const auto& p : maglev_members_)
    if (!in(tried, p.get())) any = true;
  if (!any) return nullptr;
  uint32_t slot = maglev_.slot_of(client_hash(client));
  for (uint32_t step = 0; step < maglev_.size(); ++step) {
    Backend* b = maglev_members_[maglev_.at(slot)].get();
    if (!in(tried, b)) return b;
    slot = slot + 1 == maglev_.size() ? 0 : slot + 1;
  }
  return nullptr;
}

void Balancer::rebuild_locked() {
  if (policy_ != Policy::Maglev) return;
  maglev_members_.clear();
  std::vector<MaglevTable::Member> members;
  for (const auto& p : backends_) {
    if (!p->healthy()) continue;
    maglev_members_.push_back(p);
    members.push_back({p->key_, p->weight_});
  }
  // Building fills 65537 slots, about a millisecond; it happens only when
  // the healthy set or the list changes.
  maglev_.build(members);
}

void Balancer::connect_failed(Backend& b, std::string_view reason) {
  std::lock_guard lock(mu_);
  if (b.removed()) return;
  b.successes_in_row_ = 0;
  if (b.failures_in_row_ < UINT32_MAX) ++b.failures_in_row_;
  if (b.healthy() && b.failures_in_row_ >= fall_) {
    b.healthy_.store(false, std::memory_order_relaxed);
    RW_LOG_WARN("backend {} is down ({})", b.spec().text, reason);
    rebuild_locked();
  }
}

void Balancer::connect_succeeded(Backend& b) {
  std::lock_guard lock(mu_);
  if (b.removed()) return;
  b.failures_in_row_ = 0;
  if (b.successes_in_row_ < UINT32_MAX) ++b.successes_in_row_;
  if (!b.healthy() && b.successes_in_row_ >= rise_) {
    b.healthy_.store(true, std::memory_order_relaxed);
    RW_LOG_INFO("backend {} is up", b.spec().text);
    rebuild_locked();
  }
}

void Balancer::reload(std::vector<BackendSpec> specs) {
  std::lock_guard lock(mu_);
  std::unordered_map<std::string, std::shared_ptr<Backend>> old;
  for (auto& p : backends_) old.emplace(p->key_, p);

  std::vector<std::shared_ptr<Backend>> next;
  std::unordered_map<std::string, bool> seen;
  size_t added = 0;
  for (auto& spec : specs) {
    std::string key = backend_key(spec);
    if (!seen.emplace(key, true).second) {
      RW_LOG_WARN("backend {} is listed twice; using the first", spec.text);
      continue;
    }
    if (auto it = old.find(key); it != old.end()) {
      Backend& b = *it->second;
      unsigned weight = std::max(spec.weight, 1u);
      if (b.weight_ != weight) {
        RW_LOG_INFO("backend {} weight {} -> {}", b.spec().text, b.weight_, weight);
        b.weight_ = weight;
      }
      next.push_back(std::move(it->second));
      old.erase(it);
    } else {
      next.push_back(std::make_shared<Backend>(std::move(spec)));
      ++added;
    }
  }
  for (auto& [key, b] : old) {
    b->removed_.store(true, std::memory_order_relaxed);
    RW_LOG_INFO("backend {} removed ({} relays still active)", b->spec().text, b->active());
  }
  RW_LOG_INFO("reload: {} backends ({} added, {} removed)", next.size(), added, old.size());
  backends_ = std::move(next);
  least_conn_next_ = 0;
  rebuild_locked();
}

std::vector<std::shared_ptr<Backend>> Balancer::backends() const {
  std::lock_guard lock(mu_);
  return backends_;
}

}  // namespace ringwire::lb
