#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "core/log.h"
#include "lb/balancer.h"
#include "lb_test_util.h"

namespace ringwire::lb {
namespace {

using testing_util::client;
using testing_util::make_specs;

// Workers share one Balancer: round robin stays exact across all of them.
TEST(BalancerThreads, RoundRobinIsExactAcrossWorkers) {
  Balancer b(Policy::RoundRobin, make_specs(3));
  constexpr int kWorkers = 4, kPicks = 3000;
  std::mutex mu;
  std::map<const Backend*, int> counts;
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      std::map<const Backend*, int> mine;
      for (int i = 0; i < kPicks; ++i) ++mine[b.pick(client(w)).get()];
      std::lock_guard lock(mu);
      for (auto [p, n] : mine) counts[p] += n;
    });
  }
  for (auto& t : workers) t.join();
  for (const auto& p : b.backends()) EXPECT_EQ(counts[p.get()], kWorkers * kPicks / 3);
}

// Picks, relays, health reports and reloads all at once, for every policy:
// meant for ThreadSanitizer, and checks that the counts add up afterwards.
class BalancerStress : public testing::TestWithParam<Policy> {};

TEST_P(BalancerStress, PickReportReloadConcurrently) {
  core::set_log_level(core::LogLevel::Error);  // thousands of up/down lines otherwise
  auto list_a = make_specs(4);
  auto list_b = make_specs(4, 9003);  // shares :9003 and :9004 with list_a
  Balancer b(GetParam(), list_a, 1, 1);
  std::atomic<bool> done{false};
  std::atomic<uint64_t> picks{0};
  std::vector<std::shared_ptr<Backend>> all_seen;
  std::mutex seen_mu;

  std::vector<std::thread> threads;
  for (int w = 0; w < 3; ++w) {
    threads.emplace_back([&, w] {
      for (uint32_t i = 0; !done.load(); ++i) {
        std::vector<const Backend*> tried;
        auto p = b.pick(client(i * 3 + w, 1000 + i % 1000), tried);
        if (!p) continue;
        EXPECT_TRUE(std::find(tried.begin(), tried.end(), p.get()) == tried.end());
        tried.push_back(p.get());
        p->relay_started();
        if (i % 7 == 0) b.connect_failed(*p, "stress");
        if (i % 3 == 0) b.connect_succeeded(*p);
        auto second = b.pick(client(i), tried);
        EXPECT_NE(second.get(), p.get());
        p->relay_ended();
        picks.fetch_add(1, std::memory_order_relaxed);
        if (i % 512 == 0) {
          std::lock_guard lock(seen_mu);
          all_seen.push_back(p);
        }
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; !done.load(); ++i) {
      b.reload(i % 2 ? list_a : list_b);
      for (const auto& p : b.backends()) b.connect_succeeded(*p);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  HealthChecker checker(b, 5, 20);  // against closed ports: all failures
  checker.start();

  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  done.store(true);
  checker.stop();
  for (auto& t : threads) t.join();
  core::set_log_level(core::LogLevel::Info);

  EXPECT_GT(picks.load(), 0u);
  for (const auto& p : b.backends()) EXPECT_EQ(p->active(), 0u);
  for (const auto& p : all_seen) EXPECT_EQ(p->active(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Policies, BalancerStress,
                         testing::Values(Policy::RoundRobin, Policy::LeastConn, Policy::Maglev),
                         [](const auto& info) { return std::string(policy_name(info.param)); });

}  // namespace
}  // namespace ringwire::lb
