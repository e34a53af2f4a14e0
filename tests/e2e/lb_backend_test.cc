// `ringwire lb` choosing and losing backends under load, over real sockets
// on both engines (and io_uring's three relay modes): leastconn and Maglev
// picking what they promise, backends killed under ab and wrk, health checks
// taking a backend down and bringing it back, and backends on other hosts
// (network namespaces joined by veth pairs).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/fd.h"
#include "lb_harness.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace ringwire::test;

class LbBackendTest : public LbFixture {};

// Binds `port` (SO_REUSEADDR, as a server's own sockets have, so their
// TIME_WAITs do not stand in the way) without listening, once whoever had it
// has let go: connects to it are refused, and nothing else on the machine
// can take it. An invalid Fd if it stays taken for 2 s.
ringwire::core::Fd hold_port(int port) {
  ringwire::core::Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = loopback(port);
  for (int i = 0; i < 400; ++i) {
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
    if (errno != EADDRINUSE) break;
    std::this_thread::sleep_for(5ms);
  }
  return {};
}

// Kills `backend` (SIGKILL), reaps it, and holds its port once its listener
// is gone: with io_uring, milliseconds after the process (see the killed-backend
// test below).
ringwire::core::Fd kill_and_hold_port(Server& backend) {
  const int port = backend.port();
  if (kill(backend.pid(), SIGKILL) != 0) return {};
  backend.stop();  // reaps it
  return hold_port(port);
}

// leastconn: with relays held open, a new connection goes to the backend
// with fewer active relays; relays that end are no longer counted.
TEST_P(LbBackendTest, LeastConnPrefersTheLessBusyBackend) {
  EpollEcho a("A"), b("B");
  Server lb = Server::lb(
      GetParam(), {"--policy", "leastconn", "--backend", backend_arg(a.port()), "--backend", backend_arg(b.port())});
  std::map<char, std::vector<int>> held;
  auto hold = [&] {
    int fd = -1;
    char who = greeting_via(lb.port(), &fd);
    held[who].push_back(fd);
    return who;
  };
  for (int i = 0; i < 3; ++i) hold();
  ASSERT_EQ(held['A'].size() + held['B'].size(), 3u);
  ASSERT_EQ(held.size(), 2u) << "ties are broken in turn, so both have relays";
  char fewer = held['A'].size() < held['B'].size() ? 'A' : 'B';
  char more = fewer == 'A' ? 'B' : 'A';
  EXPECT_EQ(hold(), fewer);  // 2 and 2 now

  // Every relay to `more` ends: the next two go to it (0 < 2, then 1 < 2).
  for (int fd : held[more]) close(fd);
  held[more].clear();
  EpollEcho& busy = more == 'A' ? a : b;
  ASSERT_TRUE(wait_until([&] { return busy.open() == 0; }, 3000ms));
  std::this_thread::sleep_for(200ms);  // the balancer sees the backend's close
  EXPECT_EQ(hold(), more);
  EXPECT_EQ(hold(), more);
  for (auto& [who, fds] : held)
    for (int fd : fds) close(fd);
}

// Maglev keys on the client's address: 100 clients on distinct source
// addresses each land on one backend, again and again. When a backend goes
// away (health checks mark it down), only its clients move; the others keep
// their backend. (Maglev's disruption is near-minimal rather than zero: the
// table is rebuilt, and a few of the other backends' slots may change hands;
// tests/lb/maglev_test.cc bounds that under 1%.)
TEST_P(LbBackendTest, MaglevIsStickyAndMovesOnlyTheRemovedBackendsClients) {
  constexpr int kClients = 100;
  std::vector<std::unique_ptr<EpollEcho>> backends;
  std::vector<std::string> args = {"--policy", "maglev", "--health-interval", "0.1", "--fall", "1"};
  for (int i = 0; i < 4; ++i) {
    backends.push_back(std::make_unique<EpollEcho>(std::string(1, static_cast<char>('0' + i))));
    args.insert(args.end(), {"--backend", backend_arg(backends.back()->port())});
  }
  Server lb = Server::lb(GetParam(), args);
  // Client i connects from 127.0.0.(2 + i): all of 127.0.0.0/8 is loopback.
  auto source = [](int i) { return static_cast<uint32_t>((127u << 24) | (2 + i)); };
  auto round = [&] {
    std::string who;
    for (int i = 0; i < kClients; ++i) who += greeting_via(lb.port(), nullptr, source(i));
    return who;
  };
  const std::string first = round();
  ASSERT_EQ(first.find_first_not_of("0123"), std::string::npos) << first;
  EXPECT_EQ(round(), first) << "the same source address, the same backend";
  for (char id : std::string("0123")) EXPECT_NE(first.find(id), std::string::npos) << "backend " << id << " unused";

  const char gone = first[0];
  backends[gone - '0']->stop();
  // Held, so that no server of a test running in parallel gets it from
  // bind(0) and passes the health checks in its place.
  ringwire::core::Fd held = hold_port(backends[gone - '0']->port());
  ASSERT_TRUE(held) << strerror(errno);
  const std::string down = "backend " + backend_arg(backends[gone - '0']->port()) + " is down";
  ASSERT_TRUE(wait_until([&] { return lb.log().find(down) != std::string::npos; }, 3000ms)) << lb.log();
  const std::string after = round();
  int moved = 0, others = 0, others_moved = 0;
  for (int i = 0; i < kClients; ++i) {
    EXPECT_NE(after[i], gone) << i;
    EXPECT_NE(after[i], '?') << i;
    if (first[i] == gone) {
      ++moved;
    } else {
      ++others;
      if (after[i] != first[i]) ++others_moved;
    }
  }
  EXPECT_GT(moved, 0);
  EXPECT_LE(others_moved, 2) << others_moved << " of " << others << " clients of live backends moved\n"
                             << first << "\n"
                             << after;
  EXPECT_EQ(round(), after) << "sticky again after the change";
}

// SIGKILL of one backend in the middle of load. What the balancer promises:
// a client connection never fails for want of a backend while some backend
// is up; a refused connect goes on to the next backend before any byte has
// moved, so once the killed backend refuses, nothing fails (the second ab
// run: "Failed requests: 0").
//
// What it cannot promise, and what ab with -r (carry on after a receive
// error, rather than abort on the first "Connection reset by peer") counts:
//  - a relay already connected to the backend when it dies, its request
//    sent and its answer not back, ends with it: at most one per open client
//    connection, so at most ab's concurrency (20);
//  - a dying backend's listener outlives the process for a moment, and the
//    kernel completes handshakes on it meanwhile: those connects succeed, the
//    relay sends the request, and the reset follows. Measured on this
//    machine, a SIGKILLed `ringwire serve` accepts for about 0.4 ms with the
//    reactor, but for about 11 ms (some 400 loopback connects) with io_uring,
//    whose teardown runs asynchronously after the exit and keeps the
//    listening socket open until its armed multishot accept is cancelled.
//    A balancer could hide these only by keeping every request's first bytes
//    to replay them elsewhere, which a splice relay does not do.
// The killed backends' ports are then held (bound, not listening): they lie
// in the ephemeral range, and a server started meanwhile by a test running
// in parallel could get one from bind(0), answer the balancer's connects to
// a "dead" backend and take its request (seen: the last request below came
// back empty). Held, they refuse connects as a dead backend's port does.
//
// So the first run allows a few dozen such failures (16 to 24 of about
// 19,000 requests in repeated runs here, on either engine), none of them a
// failed connect to the balancer.
TEST_P(LbBackendTest, ABackendKilledUnderLoadFailsNoNewConnection) {
  start_web_backends(3);
  Server lb = Server::lb(GetParam(), web_backend_args());
  std::string url = "http://127.0.0.1:" + std::to_string(lb.port()) + "/page.html";

  std::string ab;
  std::thread ab_thread([&] { ab = run_command("ab -r -t 2 -n 1000000 -c 20 " + url); });
  std::this_thread::sleep_for(1s);
  ringwire::core::Fd held0 = kill_and_hold_port(*web_[0]);
  EXPECT_TRUE(held0) << strerror(errno);
  ab_thread.join();
  EXPECT_NE(ab.find("Complete requests:"), std::string::npos) << ab;
  size_t at = ab.find("Failed requests:");
  ASSERT_NE(at, std::string::npos) << ab;
  int failed = std::atoi(ab.c_str() + at + 16);
  EXPECT_LE(failed, 100) << ab;
  if (failed > 0) {
    EXPECT_NE(ab.find("(Connect: 0,"), std::string::npos) << ab;
  }

  // One backend dead, two up: nothing fails.
  ab = run_command("ab -n 1000 -c 20 " + url);
  EXPECT_NE(ab.find("Complete requests:      1000"), std::string::npos) << ab;
  EXPECT_NE(ab.find("Failed requests:        0"), std::string::npos) << ab;

  // wrk keeps its connections alive; those on the killed backend end with
  // it (read errors), and wrk's reconnects must all succeed.
  std::string wrk;
  std::thread wrk_thread([&] { wrk = run_command("wrk -t1 -c20 -d2s " + url); });
  std::this_thread::sleep_for(1s);
  ringwire::core::Fd held1 = kill_and_hold_port(*web_[1]);
  EXPECT_TRUE(held1) << strerror(errno);
  wrk_thread.join();
  EXPECT_NE(wrk.find("requests in"), std::string::npos) << wrk;
  if (wrk.find("Socket errors") != std::string::npos) {
    EXPECT_NE(wrk.find("connect 0,"), std::string::npos) << wrk;
  }
  EXPECT_EQ(wrk.find("Non-2xx"), std::string::npos) << wrk;
  const std::string last = who(lb.port());
  const std::string& log = lb.log();
  EXPECT_EQ(last, "backend 2") << log.substr(log.size() > 3000 ? log.size() - 3000 : 0);
}

// A backend stopped is marked down by the health checks (--fall 2), and
// once started again on the same port, up (--rise 2), and it gets traffic again.
TEST_P(LbBackendTest, HealthChecksTakeABackendDownAndBringItBack) {
  start_web_backends(2);
  const int port1 = web_[1]->port();
  Server lb = Server::lb(GetParam(), {"--backend", backend_arg(web_[0]->port()), "--backend", backend_arg(port1),
                                      "--health-interval", "0.1", "--rise", "2", "--fall", "2"});
  std::map<std::string, int> hits;
  for (int i = 0; i < 4; ++i) ++hits[who(lb.port())];
  EXPECT_EQ(hits["backend 1"], 2);

  web_[1]->stop();
  // Held while it is down, so that no server of a test running in parallel
  // gets it from bind(0); let go just before the backend comes back on it.
  ringwire::core::Fd held = hold_port(port1);
  ASSERT_TRUE(held) << strerror(errno);
  const std::string name = "backend " + backend_arg(port1);
  ASSERT_TRUE(wait_until([&] { return lb.log().find(name + " is down") != std::string::npos; }, 3000ms)) << lb.log();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(who(lb.port()), "backend 0") << i;
  held = {};

  web_[1] = std::make_unique<Server>(
      std::vector<std::string>{RINGWIRE_BINARY, "serve", "--engine", engine_of(GetParam()), "--listen",
                               backend_arg(port1), "--root", docroot(1), "--workers", "1"},
      std::function<void()>{});
  ASSERT_TRUE(wait_until([&] { return lb.log().find(name + " is up") != std::string::npos; }, 3000ms)) << lb.log();
  hits.clear();
  for (int i = 0; i < 10; ++i) ++hits[who(lb.port())];
  EXPECT_GE(hits["backend 1"], 4) << hits["backend 0"];
  EXPECT_GE(hits["backend 0"], 4) << hits["backend 1"];
}

// A process started under `ip netns exec` (its pid is the program's own:
// ip execs it), kept until "listening on" is logged, and stopped by pid.
class NetnsProcess {
 public:
  explicit NetnsProcess(std::vector<std::string> args) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDERR_FILENO);
      std::vector<char*> argv;
      for (auto& s : args) argv.push_back(s.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fds[1]);
    err_ = fds[0];
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (log_.find("listening on") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{err_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      ssize_t n = read(err_, buf, sizeof buf);
      if (n <= 0) break;
      log_.append(buf, static_cast<size_t>(n));
    }
  }
  ~NetnsProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status;
      if (!exited_within(pid_, 5000ms)) kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    close(err_);
  }
  bool listening() const { return log_.find("listening on") != std::string::npos; }
  const std::string& log() const { return log_; }

 private:
  pid_t pid_ = -1;
  int err_ = -1;
  std::string log_;
};

// Two network namespaces, each joined to this one by a veth pair; removed
// (with the veth pairs) when the test ends, however it ends.
struct Namespaces {
  std::vector<std::string> names, veths;
  ~Namespaces() {
    for (const auto& v : veths) run_command("ip link del " + v);
    for (const auto& n : names) run_command("ip netns del " + n);
  }
};

// Backends on other hosts: each `ringwire serve` runs in its own network
// namespace behind a veth pair (10.77.X.2, the root namespace's end
// 10.77.X.1), and the balancer in the root namespace relays to both.
TEST_P(LbBackendTest, BackendsInOtherNetworkNamespaces) {
  const std::string ip = fs::exists("/usr/sbin/ip") ? "/usr/sbin/ip" : "/bin/ip";
  if (!fs::exists(ip)) GTEST_SKIP() << "iproute2's ip is not installed";
  const std::string tag = std::to_string(getpid());
  const std::string probe =
      run_command(ip + " netns add rwprobe" + tag + " && " + ip + " netns del rwprobe" + tag + " && echo netns-ok");
  if (probe.find("netns-ok") == std::string::npos)
    GTEST_SKIP() << "cannot create network namespaces here (needs root / CAP_SYS_ADMIN): " << probe;

  // Subnets derived from the pid, so concurrent test processes do not collide.
  const int base = 1 + 2 * static_cast<int>(getpid() % 120);
  Namespaces ns;
  std::vector<std::unique_ptr<NetnsProcess>> servers;
  std::vector<std::string> lb_args;
  for (int i = 0; i < 2; ++i) {
    const std::string name = "rw" + tag + (i ? "b" : "a");
    const std::string host_end = "rwv" + tag + (i ? "b" : "a"), ns_end = "rwp" + tag + (i ? "b" : "a");
    const std::string net = "10.77." + std::to_string(base + i);
    ns.names.push_back(name);
    ASSERT_EQ(run_command(ip + " netns add " + name), "");
    ns.veths.push_back(host_end);
    const std::string in_ns = ip + " netns exec " + name + " " + ip;
    std::string out =
        run_command(ip + " link add " + host_end + " type veth peer name " + ns_end + " && " + ip + " link set " +
                    ns_end + " netns " + name + " && " + ip + " addr add " + net + ".1/24 dev " + host_end + " && " +
                    ip + " link set " + host_end + " up && " + in_ns + " addr add " + net + ".2/24 dev " + ns_end +
                    " && " + in_ns + " link set " + ns_end + " up && " + in_ns + " link set lo up && echo setup-ok");
    ASSERT_NE(out.find("setup-ok"), std::string::npos) << out;
    servers.push_back(std::make_unique<NetnsProcess>(
        std::vector<std::string>{ip, "netns", "exec", name, RINGWIRE_BINARY, "serve", "--engine", engine_of(GetParam()),
                                 "--listen", net + ".2:8080", "--root", docroot(i), "--workers", "1"}));
    ASSERT_TRUE(servers.back()->listening()) << servers.back()->log();
    lb_args.insert(lb_args.end(), {"--backend", net + ".2:8080"});
  }
  Server lb = Server::lb(GetParam(), lb_args);
  std::map<std::string, int> hits;
  for (int i = 0; i < 6; ++i) ++hits[who(lb.port())];
  EXPECT_EQ(hits["backend 0"], 3) << lb.log();
  EXPECT_EQ(hits["backend 1"], 3) << lb.log();
}

INSTANTIATE_TEST_SUITE_P(Engines, LbBackendTest, ::testing::ValuesIn(kLbEngines), EngineName());

}  // namespace
