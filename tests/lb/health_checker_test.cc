#include "lb/health_checker.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <thread>

#include "core/log.h"
#include "core/socket.h"
#include "lb/balancer.h"

namespace ringwire::lb {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int64_t kIntervalMs = 50;
constexpr int64_t kTimeoutMs = 200;
constexpr auto kPatience = std::chrono::seconds(5);

// A loopback listener on an ephemeral port that accepts and closes whatever
// the checker's probes leave in its queue, so a long test never fills it.
class Listener {
 public:
  explicit Listener(uint16_t port = 0, int backlog = 128) { open(port, backlog); }
  void open(uint16_t port, int backlog = 128) {
    auto ep = core::parse_endpoint(fmt::format("127.0.0.1:{}", port));
    auto fd = core::listen_tcp(*ep, false, backlog);
    ASSERT_TRUE(fd) << "listen: " << fd.error();
    fd_ = std::move(*fd);
    port_ = core::local_endpoint(fd_.get())->port();
  }
  void close() { fd_.reset(); }
  void drain() {
    if (!fd_) return;
    while (true) {
      core::Fd c(::accept4(fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!c) break;
    }
  }
  uint16_t port() const { return port_; }
  BackendSpec spec() const { return *parse_backend_arg(fmt::format("127.0.0.1:{}", port_)); }
  int fd() const { return fd_.get(); }

 private:
  core::Fd fd_;
  uint16_t port_ = 0;
};

// A port nothing listens on: bound once by the kernel's choice, then closed.
uint16_t closed_port() {
  Listener l;
  return l.port();
}

// Waits until `done` holds, draining the listeners meanwhile; false on timeout.
bool wait_until(const std::function<bool()>& done, std::vector<Listener*> listeners = {},
                Clock::duration patience = kPatience) {
  auto deadline = Clock::now() + patience;
  while (Clock::now() < deadline) {
    for (auto* l : listeners) l->drain();
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return false;
}

class HealthCheckerTest : public testing::Test {
 protected:
  void SetUp() override { core::set_log_level(core::LogLevel::Warn); }
  void TearDown() override { core::set_log_level(core::LogLevel::Info); }
};

TEST_F(HealthCheckerTest, ListenerStaysUpClosedPortGoesDown) {
  Listener up;
  auto down_spec = *parse_backend_arg(fmt::format("127.0.0.1:{}", closed_port()));
  Balancer b(Policy::RoundRobin, {up.spec(), down_spec}, /*rise=*/2, /*fall=*/2);
  auto all = b.backends();
  HealthChecker checker(b, kIntervalMs, kTimeoutMs);
  checker.start();
  ASSERT_TRUE(wait_until([&] { return !all[1]->healthy(); }, {&up}));
  // A few more rounds: the listener is never marked down.
  auto until = Clock::now() + milliseconds(4 * kIntervalMs);
  while (Clock::now() < until) {
    up.drain();
    ASSERT_TRUE(all[0]->healthy());
    std::this_thread::sleep_for(milliseconds(5));
  }
}

TEST_F(HealthCheckerTest, ClosingAListenerTakesItDownAfterFallAndReopeningBringsItUp) {
  Listener l;
  const unsigned fall = 3;
  Balancer b(Policy::RoundRobin, {l.spec()}, /*rise=*/2, fall);
  Backend& x = *b.backends()[0];
  HealthChecker checker(b, kIntervalMs, kTimeoutMs);
  checker.start();
  // Let a few rounds succeed first.
  std::this_thread::sleep_for(milliseconds(3 * kIntervalMs));
  l.drain();
  ASSERT_TRUE(x.healthy());

  uint16_t port = l.port();
  l.close();
  auto closed_at = Clock::now();
  ASSERT_TRUE(wait_until([&] { return !x.healthy(); }));
  // `fall` failed rounds in a row, each an interval apart, take at least
  // (fall - 1) intervals (less a millisecond of timer rounding per round).
  EXPECT_GE(Clock::now() - closed_at, milliseconds((fall - 1) * (kIntervalMs - 2)));

  l.open(port);
  ASSERT_TRUE(wait_until([&] { return x.healthy(); }, {&l}));
}

TEST_F(HealthCheckerTest, UnansweredConnectTimesOut) {
  // A listener whose accept queue is full drops further SYNs, so the probe's
  // connect neither succeeds nor fails: only the timeout ends it.
  Listener full(0, 0);
  auto ep = *core::parse_endpoint(fmt::format("127.0.0.1:{}", full.port()));
  std::vector<core::Fd> fillers;
  for (int i = 0; i < 4; ++i) {
    core::Fd c(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    ::connect(c.get(), reinterpret_cast<const sockaddr*>(&ep.addr), ep.len);
    fillers.push_back(std::move(c));
  }
  std::this_thread::sleep_for(milliseconds(20));

  Balancer b(Policy::RoundRobin, {full.spec()}, /*rise=*/1, /*fall=*/1);
  Backend& x = *b.backends()[0];
  HealthChecker checker(b, kIntervalMs, /*timeout_ms=*/100);
  auto started = Clock::now();
  checker.start();
  ASSERT_TRUE(wait_until([&] { return !x.healthy(); }));
  auto took = Clock::now() - started;
  EXPECT_GE(took, milliseconds(95));
  EXPECT_LT(took, std::chrono::seconds(2));
}

TEST_F(HealthCheckerTest, StopIsPromptEvenWithALongInterval) {
  Balancer b(Policy::RoundRobin, {*parse_backend_arg(fmt::format("127.0.0.1:{}", closed_port()))}, 1, 1);
  Backend& x = *b.backends()[0];
  auto checker = std::make_unique<HealthChecker>(b, /*interval_ms=*/60'000, kTimeoutMs);
  checker->start();
  ASSERT_TRUE(wait_until([&] { return !x.healthy(); }));  // the first round ran at once
  auto t0 = Clock::now();
  checker->stop();
  checker.reset();  // joins
  EXPECT_LT(Clock::now() - t0, milliseconds(500));
}

TEST_F(HealthCheckerTest, RestartsAfterStop) {
  Listener l;
  Balancer b(Policy::RoundRobin, {l.spec()}, 1, 1);
  Backend& x = *b.backends()[0];
  HealthChecker checker(b, kIntervalMs, kTimeoutMs);
  checker.start();
  checker.start();  // already running: nothing happens
  checker.stop();
  uint16_t port = l.port();
  l.close();
  checker.start();
  ASSERT_TRUE(wait_until([&] { return !x.healthy(); }));
  l.open(port);
  ASSERT_TRUE(wait_until([&] { return x.healthy(); }, {&l}));
}

TEST_F(HealthCheckerTest, FollowsReloads) {
  Listener a;
  Balancer b(Policy::RoundRobin, {a.spec()}, 1, 1);
  HealthChecker checker(b, kIntervalMs, kTimeoutMs);
  checker.start();
  auto gone = *parse_backend_arg(fmt::format("127.0.0.1:{}", closed_port()));
  b.reload({a.spec(), gone});
  auto added = b.backends()[1];
  ASSERT_TRUE(wait_until([&] { return !added->healthy(); }, {&a}));
  EXPECT_TRUE(b.backends()[0]->healthy());
}

TEST(DescribeConnectError, ReadsMidSentence) {
  EXPECT_EQ(describe_connect_error(ECONNREFUSED), "connection refused");
  EXPECT_EQ(describe_connect_error(ETIMEDOUT), "timed out");
}

}  // namespace
}  // namespace ringwire::lb
