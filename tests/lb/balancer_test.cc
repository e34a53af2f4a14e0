#include "lb/balancer.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "core/log.h"
#include "lb_test_util.h"

namespace ringwire::lb {
namespace {

using testing_util::client;
using testing_util::make_specs;

// Picks `n` times from one client and returns the backends' texts in order.
std::vector<std::string> pick_sequence(Balancer& b, int n) {
  std::vector<std::string> seq;
  for (int i = 0; i < n; ++i) {
    auto p = b.pick(client(1));
    EXPECT_TRUE(p);
    if (!p) break;
    seq.push_back(p->spec().text);
  }
  return seq;
}

std::map<std::string, int> count(const std::vector<std::string>& seq) {
  std::map<std::string, int> counts;
  for (const auto& s : seq) ++counts[s];
  return counts;
}

// Takes a backend down with `fall` failures in a row.
void take_down(Balancer& b, Backend& backend) {
  for (unsigned i = 0; i < b.fall(); ++i) b.connect_failed(backend, "test");
  ASSERT_FALSE(backend.healthy());
}

struct RoundRobinCase {
  std::vector<unsigned> weights;
  int picks;
  std::vector<int> expected;
};

class RoundRobinExact : public testing::TestWithParam<RoundRobinCase> {};

TEST_P(RoundRobinExact, SplitsPicksExactlyByWeight) {
  const auto& c = GetParam();
  Balancer b(Policy::RoundRobin, make_specs(c.weights));
  auto counts = count(pick_sequence(b, c.picks));
  for (size_t i = 0; i < c.weights.size(); ++i)
    EXPECT_EQ(counts[fmt::format("127.0.0.1:{}", 9001 + i)], c.expected[i]) << "backend " << i;
}

INSTANTIATE_TEST_SUITE_P(Cases, RoundRobinExact,
                         testing::Values(RoundRobinCase{{1, 1, 1}, 3000, {1000, 1000, 1000}},
                                         RoundRobinCase{{1, 1}, 7, {4, 3}},
                                         RoundRobinCase{{5, 1, 1}, 7000, {5000, 1000, 1000}},
                                         RoundRobinCase{{3, 2}, 500, {300, 200}},
                                         RoundRobinCase{{1000, 1}, 1001, {1000, 1}}, RoundRobinCase{{1}, 10, {10}}));

TEST(RoundRobin, EqualWeightsRotateInOrder) {
  Balancer b(Policy::RoundRobin, make_specs(3));
  auto seq = pick_sequence(b, 9);
  std::vector<std::string> expected;
  for (int i = 0; i < 3; ++i)
    for (const char* s : {"127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"}) expected.push_back(s);
  EXPECT_EQ(seq, expected);
}

// Smooth: every window of one period (7 picks for 5:1:1) holds each backend
// exactly its weight times, so the heavy backend never gets its five in a row.
TEST(RoundRobin, WeightedIsSmooth) {
  Balancer b(Policy::RoundRobin, make_specs({5, 1, 1}));
  auto seq = pick_sequence(b, 7000);
  for (size_t start = 0; start + 7 <= seq.size(); ++start) {
    auto counts = count({seq.begin() + start, seq.begin() + start + 7});
    ASSERT_EQ(counts["127.0.0.1:9001"], 5) << "window at " << start;
    ASSERT_EQ(counts["127.0.0.1:9002"], 1) << "window at " << start;
    ASSERT_EQ(counts["127.0.0.1:9003"], 1) << "window at " << start;
  }
  size_t run = 0, longest = 0;
  for (size_t i = 0; i < seq.size(); ++i) {
    run = i > 0 && seq[i] == seq[i - 1] ? run + 1 : 1;
    longest = std::max(longest, run);
  }
  EXPECT_LT(longest, 5u);
}

TEST(RoundRobin, IsGlobalAcrossCallers) {
  // Different clients (as different workers would see) share one rotation.
  Balancer b(Policy::RoundRobin, make_specs(3));
  std::map<std::string, int> counts;
  for (uint32_t i = 0; i < 300; ++i) ++counts[b.pick(client(i, 1000 + i))->spec().text];
  EXPECT_EQ(counts["127.0.0.1:9001"], 100);
  EXPECT_EQ(counts["127.0.0.1:9002"], 100);
  EXPECT_EQ(counts["127.0.0.1:9003"], 100);
}

TEST(LeastConn, PrefersFewestActive) {
  Balancer b(Policy::LeastConn, make_specs(3));
  auto all = b.backends();
  all[0]->relay_started();
  all[0]->relay_started();
  all[1]->relay_started();
  // 2, 1, 0 active: the third wins every time while nothing changes.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(b.pick(client(1)), all[2]);
  all[2]->relay_started();
  all[2]->relay_started();
  // 2, 1, 2: the second.
  EXPECT_EQ(b.pick(client(1)), all[1]);
  all[0]->relay_ended();
  all[0]->relay_ended();
  EXPECT_EQ(b.pick(client(1)), all[0]);
}

TEST(LeastConn, TiesGoRoundRobin) {
  Balancer b(Policy::LeastConn, make_specs(3));
  auto all = b.backends();
  // All idle: a plain rotation.
  for (int round = 0; round < 3; ++round)
    for (int i = 0; i < 3; ++i) EXPECT_EQ(b.pick(client(1)), all[i]) << round << " " << i;
  // One busy: the two idle ones alternate.
  all[0]->relay_started();
  std::map<const Backend*, int> counts;
  std::shared_ptr<Backend> prev;
  for (int i = 0; i < 10; ++i) {
    auto p = b.pick(client(1));
    EXPECT_NE(p, all[0]);
    EXPECT_NE(p, prev);
    prev = p;
    ++counts[p.get()];
  }
  EXPECT_EQ(counts[all[1].get()], 5);
  EXPECT_EQ(counts[all[2].get()], 5);
}

TEST(LeastConn, RelaysStartedAsPickedSpreadEvenly) {
  // Each pick's relay stays open: least connections then fills evenly.
  Balancer b(Policy::LeastConn, make_specs(4));
  for (int i = 0; i < 400; ++i) b.pick(client(1))->relay_started();
  for (const auto& p : b.backends()) EXPECT_EQ(p->active(), 100u);
}

TEST(LeastConn, WeightsScaleTheLoad) {
  Balancer b(Policy::LeastConn, make_specs({3, 1}));
  for (int i = 0; i < 400; ++i) b.pick(client(1))->relay_started();
  auto all = b.backends();
  EXPECT_EQ(all[0]->active(), 300u);
  EXPECT_EQ(all[1]->active(), 100u);
}

class EveryPolicy : public testing::TestWithParam<Policy> {};

TEST_P(EveryPolicy, SkipsTriedAndReturnsNullWhenNoneIsLeft) {
  Balancer b(GetParam(), make_specs(3));
  for (uint32_t c = 0; c < 50; ++c) {
    std::vector<const Backend*> tried;
    for (int i = 0; i < 3; ++i) {
      auto p = b.pick(client(c), tried);
      ASSERT_TRUE(p);
      for (const Backend* t : tried) ASSERT_NE(p.get(), t);
      tried.push_back(p.get());
    }
    EXPECT_EQ(b.pick(client(c), tried), nullptr);
  }
}

TEST_P(EveryPolicy, SkipsUnhealthyUntilItRises) {
  Balancer b(GetParam(), make_specs(3), /*rise=*/2, /*fall=*/3);
  auto all = b.backends();
  take_down(b, *all[1]);
  for (uint32_t c = 0; c < 300; ++c) EXPECT_NE(b.pick(client(c)), all[1]);
  take_down(b, *all[0]);
  take_down(b, *all[2]);
  EXPECT_EQ(b.pick(client(7)), nullptr);
  b.connect_succeeded(*all[1]);
  b.connect_succeeded(*all[1]);
  for (uint32_t c = 0; c < 20; ++c) EXPECT_EQ(b.pick(client(c)), all[1]);
}

TEST_P(EveryPolicy, NeverPicksRemoved) {
  Balancer b(GetParam(), make_specs(3));
  auto all = b.backends();
  b.reload(make_specs(2));  // drops :9003
  for (uint32_t c = 0; c < 300; ++c) {
    auto p = b.pick(client(c));
    ASSERT_TRUE(p);
    EXPECT_NE(p, all[2]);
  }
}

TEST_P(EveryPolicy, EmptyListPicksNothing) {
  Balancer b(GetParam(), {});
  EXPECT_EQ(b.pick(client(1)), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Policies, EveryPolicy, testing::Values(Policy::RoundRobin, Policy::LeastConn, Policy::Maglev),
                         [](const auto& info) { return std::string(policy_name(info.param)); });

TEST(Health, FallCountsFailuresInARow) {
  Balancer b(Policy::RoundRobin, make_specs(1), /*rise=*/2, /*fall=*/3);
  Backend& x = *b.backends()[0];
  b.connect_failed(x, "refused");
  b.connect_failed(x, "refused");
  EXPECT_TRUE(x.healthy());
  b.connect_succeeded(x);  // breaks the run
  b.connect_failed(x, "refused");
  b.connect_failed(x, "refused");
  EXPECT_TRUE(x.healthy());
  b.connect_failed(x, "refused");
  EXPECT_FALSE(x.healthy());
}

TEST(Health, RiseCountsSuccessesInARow) {
  Balancer b(Policy::RoundRobin, make_specs(1), /*rise=*/3, /*fall=*/1);
  Backend& x = *b.backends()[0];
  b.connect_failed(x, "refused");
  EXPECT_FALSE(x.healthy());
  b.connect_succeeded(x);
  b.connect_succeeded(x);
  b.connect_failed(x, "refused");  // breaks the run
  b.connect_succeeded(x);
  b.connect_succeeded(x);
  EXPECT_FALSE(x.healthy());
  b.connect_succeeded(x);
  EXPECT_TRUE(x.healthy());
}

TEST(Health, ChangesAreLoggedOnce) {
  core::set_log_level(core::LogLevel::Info);
  Balancer b(Policy::RoundRobin, make_specs(1), /*rise=*/2, /*fall=*/2);
  Backend& x = *b.backends()[0];
  testing::internal::CaptureStderr();
  for (int i = 0; i < 5; ++i) b.connect_failed(x, "connection refused");
  for (int i = 0; i < 5; ++i) b.connect_succeeded(x);
  std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(log,
            "ringwire: warn: backend 127.0.0.1:9001 is down (connection refused)\n"
            "ringwire: info: backend 127.0.0.1:9001 is up\n");
}

TEST(Reload, KeepsCommonBackendsAddsNewOnesMarksRemovedOnes) {
  Balancer b(Policy::LeastConn, make_specs(3), /*rise=*/2, /*fall=*/1);
  auto before = b.backends();
  before[0]->relay_started();
  before[1]->relay_started();
  before[2]->relay_started();
  b.connect_failed(*before[1], "refused");
  ASSERT_FALSE(before[1]->healthy());

  // Keep :9001 (spelled differently) and :9002, drop :9003, add :9004.
  std::vector<BackendSpec> specs;
  for (const char* text : {"localhost:9001", "127.0.0.1:9002", "127.0.0.1:9004"})
    specs.push_back(*parse_backend_arg(text));
  b.reload(specs);

  auto after = b.backends();
  ASSERT_EQ(after.size(), 3u);
  EXPECT_EQ(after[0], before[0]);
  EXPECT_EQ(after[1], before[1]);
  EXPECT_EQ(after[0]->active(), 1u);
  EXPECT_FALSE(after[1]->healthy());  // health survives a reload
  EXPECT_EQ(after[2]->spec().text, "127.0.0.1:9004");
  EXPECT_TRUE(after[2]->healthy());
  EXPECT_FALSE(after[2]->removed());

  // The removed one lives on for its relay, marked, and is never picked.
  EXPECT_TRUE(before[2]->removed());
  EXPECT_EQ(before[2]->active(), 1u);
  for (uint32_t c = 0; c < 100; ++c) EXPECT_NE(b.pick(client(c)), before[2]);
  // Its late reports change nothing.
  b.connect_failed(*before[2], "refused");
  b.connect_succeeded(*before[2]);
  before[2]->relay_ended();
  EXPECT_EQ(before[2]->active(), 0u);

  // The rise counter survived too: two successes bring :9002 back.
  b.connect_succeeded(*after[1]);
  b.connect_succeeded(*after[1]);
  EXPECT_TRUE(after[1]->healthy());
}

TEST(Reload, RemovedBackendOutlivesTheBalancerList) {
  Balancer b(Policy::RoundRobin, make_specs(2));
  std::shared_ptr<Backend> relay_ref = b.pick(client(1));  // :9001
  ASSERT_EQ(relay_ref->spec().text, "127.0.0.1:9001");
  b.reload(make_specs(1, 9002));
  EXPECT_EQ(relay_ref.use_count(), 1);  // only the relay holds it now
  EXPECT_TRUE(relay_ref->removed());
  EXPECT_EQ(b.pick(client(1))->spec().text, "127.0.0.1:9002");
}

TEST(Reload, NewWeightApplies) {
  Balancer b(Policy::RoundRobin, make_specs({1, 1}));
  auto before = b.backends();
  b.reload(make_specs({3, 1}));
  EXPECT_EQ(b.backends()[0], before[0]);
  auto counts = count(pick_sequence(b, 400));
  EXPECT_EQ(counts["127.0.0.1:9001"], 300);
  EXPECT_EQ(counts["127.0.0.1:9002"], 100);
}

TEST(Balancer, DuplicateSpecsKeepTheFirst) {
  auto specs = make_specs(2);
  specs.push_back(*parse_backend_arg("localhost:9001"));
  Balancer b(Policy::RoundRobin, specs);
  EXPECT_EQ(b.backends().size(), 2u);
}

}  // namespace
}  // namespace ringwire::lb
