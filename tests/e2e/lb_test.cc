// `ringwire lb` over real sockets on both engines (and io_uring's three
// relay modes): byte-exact relaying both
// ways at once, half-close and resets carried across, round robin over four
// real `ringwire serve` backends, dead and blackholed backends skipped, the
// log lines, SIGHUP reload, a graceful stop, and the command line's errors.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace ringwire::test;

// A port nothing listens on (bound, then closed).
int dead_port() {
  int port = 0;
  close(listen_loopback(port));
  return port;
}

// An echo backend in this process: each connection gets back what it sends;
// at EOF it half-closes too. `greet_and_shut` makes it send "hi" and shut
// its sending side at once (a backend-initiated half-close); `reset_after_read`
// makes it reset the connection after the first bytes arrive.
class EchoServer {
 public:
  enum class Mode { Echo, GreetAndShut, ResetAfterRead };
  explicit EchoServer(Mode mode = Mode::Echo) : mode_(mode) {
    fd_ = listen_loopback(port_);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~EchoServer() {
    stopping_ = true;
    shutdown(fd_, SHUT_RDWR);
    acceptor_.join();
    close(fd_);
    std::lock_guard lock(mu_);
    for (auto& t : conns_) t.join();
  }
  int port() const { return port_; }
  int open() const { return open_.load(); }
  uint64_t received() const { return received_.load(); }

 private:
  void accept_loop() {
    for (;;) {
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        if (stopping_) return;
        continue;
      }
      ++open_;
      std::lock_guard lock(mu_);
      conns_.emplace_back([this, c] { serve(c); });
    }
  }
  void serve(int c) {
    timeval tv{20, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (mode_ == Mode::GreetAndShut) {
      send(c, "hi", 2, MSG_NOSIGNAL);
      shutdown(c, SHUT_WR);
    }
    char buf[65536];
    for (;;) {
      ssize_t n = recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      received_ += n;
      if (mode_ == Mode::ResetAfterRead) {
        linger l{1, 0};
        setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        break;
      }
      if (mode_ == Mode::Echo) {
        for (ssize_t off = 0; off < n;) {
          ssize_t m = send(c, buf + off, n - off, MSG_NOSIGNAL);
          if (m <= 0) goto done;
          off += m;
        }
      }
    }
    if (mode_ == Mode::Echo) shutdown(c, SHUT_WR);
  done:
    close(c);
    --open_;
  }

  Mode mode_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> open_{0};
  std::atomic<uint64_t> received_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> conns_;
};

// The n-th byte of a reproducible pseudo-random stream.
struct Stream {
  uint64_t x;
  explicit Stream(uint64_t seed) : x(seed) {}
  void fill(char* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      p[i] = static_cast<char>(x >> 56);
    }
  }
};

class LbTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { root_ = fresh_test_dir(); }
  void TearDown() override { fs::remove_all(root_); }

  // Four `ringwire serve` backends, each serving who.txt = "backend N" and a 2 MiB file.
  void start_web_backends(int n = 4) {
    for (int i = 0; i < n; ++i) {
      fs::path dir = root_ / ("www" + std::to_string(i));
      fs::create_directories(dir);
      std::ofstream(dir / "who.txt") << "backend " << i;
      std::ofstream(dir / "page.html") << kPage;
      std::ofstream(dir / "big.bin", std::ios::binary) << std::string(2 << 20, static_cast<char>('a' + i));
      web_.push_back(
          std::make_unique<Server>(engine_of(GetParam()), dir.string(), std::vector<std::string>{"--workers", "1"}));
    }
  }
  std::vector<std::string> web_backend_args() const {
    std::vector<std::string> args;
    for (const auto& w : web_) args.insert(args.end(), {"--backend", backend_arg(w->port())});
    return args;
  }

  fs::path root_;
  std::vector<std::unique_ptr<Server>> web_;
};

TEST_P(LbTest, RelaysBytesExactlyBothWaysAtOnce) {
  EchoServer echo;
  Server lb = Server::lb(GetParam(), {"--backend", backend_arg(echo.port())});
  int fd = connect_to(lb.port());
  ASSERT_GE(fd, 0);
  constexpr size_t kTotal = size_t{256} << 20;
  std::thread writer([&] {
    Stream s(42);
    std::vector<char> buf(1 << 16);
    for (size_t sent = 0; sent < kTotal;) {
      size_t n = std::min(buf.size(), kTotal - sent);
      s.fill(buf.data(), n);
      for (size_t off = 0; off < n;) {
        ssize_t m = send(fd, buf.data() + off, n - off, MSG_NOSIGNAL);
        if (m <= 0) return;
        off += m;
      }
      sent += n;
    }
    shutdown(fd, SHUT_WR);
  });
  Stream expect(42);
  std::vector<char> buf(1 << 16), want(1 << 16);
  size_t got = 0;
  bool same = true;
  for (;;) {
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) break;
    expect.fill(want.data(), n);
    if (memcmp(buf.data(), want.data(), n) != 0) same = false;
    got += n;
  }
  writer.join();
  close(fd);
  EXPECT_EQ(got, kTotal);
  EXPECT_TRUE(same) << "the relayed bytes differ";
}

TEST_P(LbTest, HalfCloseIsForwardedBothWays) {
  {  // Client first: it shuts its side; the backend sees EOF, answers, and shuts its own.
    EchoServer echo;
    Server lb = Server::lb(GetParam(), {"--backend", backend_arg(echo.port())});
    int fd = connect_to(lb.port());
    ASSERT_GE(fd, 0);
    send_all(fd, "hello");
    shutdown(fd, SHUT_WR);
    std::string got;
    EXPECT_TRUE(read_until_closed(fd, 3000, got));
    EXPECT_EQ(got, "hello");
    close(fd);
  }
  {  // Backend first: it greets and shuts its side; the client still sends, and it arrives.
    EchoServer greeter(EchoServer::Mode::GreetAndShut);
    Server lb = Server::lb(GetParam(), {"--backend", backend_arg(greeter.port())});
    int fd = connect_to(lb.port());
    ASSERT_GE(fd, 0);
    char buf[16];
    ASSERT_EQ(recv(fd, buf, sizeof buf, 0), 2);
    EXPECT_EQ(recv(fd, buf, sizeof buf, 0), 0) << "the backend's EOF reaches the client";
    send_all(fd, std::string(100000, 'x'));
    EXPECT_TRUE(wait_until([&] { return greeter.received() == 100000; }, 3000ms)) << greeter.received();
    shutdown(fd, SHUT_WR);
    EXPECT_TRUE(wait_until([&] { return greeter.open() == 0; }, 3000ms));
    close(fd);
  }
}

TEST_P(LbTest, ResetOnOneSideClosesTheOther) {
  {  // The client resets: the backend connection ends.
    EchoServer echo;
    Server lb = Server::lb(GetParam(), {"--backend", backend_arg(echo.port())});
    int fd = connect_to(lb.port());
    ASSERT_GE(fd, 0);
    send_all(fd, "ping");
    char buf[8];
    ASSERT_EQ(recv(fd, buf, sizeof buf, 0), 4);
    linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
    EXPECT_TRUE(wait_until([&] { return echo.open() == 0; }, 3000ms));
  }
  {  // The backend resets: the client's connection ends.
    EchoServer resetter(EchoServer::Mode::ResetAfterRead);
    Server lb = Server::lb(GetParam(), {"--backend", backend_arg(resetter.port())});
    int fd = connect_to(lb.port());
    ASSERT_GE(fd, 0);
    send_all(fd, "ping");
    std::string got;
    EXPECT_TRUE(read_until_closed(fd, 3000, got));
    close(fd);
  }
}

TEST_P(LbTest, RoundRobinIsExactOverFourServeBackends) {
  start_web_backends();
  Server lb = Server::lb(GetParam(), web_backend_args());
  std::map<std::string, int> hits;
  for (int i = 0; i < 40; ++i) {
    Response r = request(lb.port(), "GET /who.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    ASSERT_EQ(r.status, 200) << i;
    ++hits[r.body];
  }
  ASSERT_EQ(hits.size(), 4u);
  for (auto& [who, n] : hits) EXPECT_EQ(n, 10) << who;
}

TEST_P(LbTest, ApacheBenchAndWrkThroughTheBalancerHaveNoFailures) {
  start_web_backends();
  Server lb = Server::lb(GetParam(), web_backend_args());
  std::string url = "http://127.0.0.1:" + std::to_string(lb.port()) + "/page.html";
  std::string ab = run_command("ab -n 1000 -c 100 -k " + url);
  EXPECT_NE(ab.find("Complete requests:      1000"), std::string::npos) << ab;
  EXPECT_NE(ab.find("Failed requests:        0"), std::string::npos) << ab;
  std::string wrk = run_command("wrk -t1 -c50 -d1s " + url);
  EXPECT_NE(wrk.find("requests in"), std::string::npos) << wrk;
  EXPECT_EQ(wrk.find("Socket errors"), std::string::npos) << wrk;
  EXPECT_EQ(wrk.find("Non-2xx"), std::string::npos) << wrk;
}

TEST_P(LbTest, DeadAndBlackholedBackendsAreSkipped) {
  start_web_backends(1);
  // A blackhole: its accept queue is full and never drained, so a connect
  // to it hangs until the balancer's connect timeout.
  int hole_port = 0;
  int hole = listen_loopback(hole_port, 0);
  std::vector<int> fillers;
  for (int i = 0; i < 8; ++i) {
    int f = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(hole_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(f, reinterpret_cast<sockaddr*>(&a), sizeof a);
    fillers.push_back(f);
  }
  std::this_thread::sleep_for(100ms);
  Server lb =
      Server::lb(GetParam(), {"--backend", backend_arg(dead_port()), "--backend", backend_arg(hole_port), "--backend",
                              backend_arg(web_[0]->port()), "--connect-timeout", "0.2", "--health-interval", "60"});
  for (int i = 0; i < 6; ++i) {
    auto start = std::chrono::steady_clock::now();
    Response r = request(lb.port(), "GET /who.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.body, "backend 0") << i;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s) << i;
  }
  const std::string& log = lb.log();
  EXPECT_NE(log.find("connect timeout"), std::string::npos) << log;
  EXPECT_NE(log.find("is down"), std::string::npos) << log;
  for (int f : fillers) close(f);
  close(hole);
}

TEST_P(LbTest, AllBackendsDownClosesTheClientAtOnce) {
  Server lb = Server::lb(GetParam(), {"--backend", backend_arg(dead_port()), "--backend", backend_arg(dead_port())});
  int fd = connect_to(lb.port());
  ASSERT_GE(fd, 0);
  auto start = std::chrono::steady_clock::now();
  std::string got;
  EXPECT_TRUE(read_until_closed(fd, 2000, got));
  EXPECT_EQ(got, "");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  close(fd);
  EXPECT_NE(lb.log().find("no backend available"), std::string::npos) << lb.log();
}

TEST_P(LbTest, LogsEachConnectionAndItsEnd) {
  start_web_backends(1);
  Server lb = Server::lb(GetParam(), {"--backend", backend_arg(web_[0]->port()), "--log-connections"});
  Response r = request(lb.port(), "GET /who.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  std::string forwarded = "forwarded to 127.0.0.1:" + std::to_string(web_[0]->port());
  EXPECT_TRUE(wait_until([&] { return lb.log().find(" bytes down") != std::string::npos; }, 3000ms)) << lb.log();
  const std::string& log = lb.log();
  EXPECT_NE(log.find("connection from 127.0.0.1:"), std::string::npos) << log;
  EXPECT_NE(log.find(forwarded), std::string::npos) << log;
  EXPECT_NE(log.find(" bytes up, "), std::string::npos) << log;
}

TEST_P(LbTest, GracefulStopLetsRelaysFinish) {
  start_web_backends(1);
  Server lb = Server::lb(GetParam(), {"--backend", backend_arg(web_[0]->port())});
  int fd = connect_to(lb.port(), 4096);  // a small window keeps the answer in flight
  ASSERT_GE(fd, 0);
  send_all(fd, "GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::this_thread::sleep_for(200ms);
  ASSERT_EQ(kill(lb.pid(), SIGTERM), 0);
  std::string pending;
  Response r;
  ASSERT_TRUE(read_response(fd, pending, r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, std::string(2 << 20, 'a'));
  close(fd);
  EXPECT_TRUE(exited_within(lb.pid(), 6000ms));
  int status = lb.stop();
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_P(LbTest, SighupReloadsTheBackendsFile) {
  start_web_backends(2);
  fs::path file = root_ / "backends.txt";
  std::ofstream(file) << "# the first set\n" << backend_arg(web_[0]->port()) << "\n";
  Server lb = Server::lb(GetParam(), {"--backends", file.string()});
  int held = connect_to(lb.port());  // a relay in flight across the reload
  ASSERT_GE(held, 0);
  send_all(held, "GET /who.txt HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string held_pending;
  Response r;
  ASSERT_TRUE(read_response(held, held_pending, r));
  EXPECT_EQ(r.body, "backend 0");

  std::ofstream(file, std::ios::trunc) << backend_arg(web_[1]->port()) << " 1\n";
  ASSERT_EQ(kill(lb.pid(), SIGHUP), 0);
  EXPECT_TRUE(wait_until([&] { return lb.log().find("reloaded 1 backends") != std::string::npos; }, 3000ms))
      << lb.log();
  for (int i = 0; i < 4; ++i) {
    r = request(lb.port(), "GET /who.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(r.body, "backend 1") << i;
  }
  // The relay opened before the reload still goes to the removed backend.
  send_all(held, "GET /who.txt HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(read_response(held, held_pending, r));
  EXPECT_EQ(r.body, "backend 0");
  close(held);

  // A bad file is refused and the current set kept.
  std::ofstream(file, std::ios::trunc) << "not-an-address\n";
  ASSERT_EQ(kill(lb.pid(), SIGHUP), 0);
  EXPECT_TRUE(wait_until([&] { return lb.log().find("keeping the current backends") != std::string::npos; }, 3000ms))
      << lb.log();
  r = request(lb.port(), "GET /who.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.body, "backend 1");
}

INSTANTIATE_TEST_SUITE_P(Engines, LbTest, ::testing::ValuesIn(kLbEngines), EngineName());

// The command line refuses what cannot work, naming the problem.
TEST(LbCliTest, BadConfigurationsAreRefused) {
  auto dir = fresh_test_dir();
  fs::create_directories(dir);
  std::ofstream(dir / "bad.txt") << "# fine\n127.0.0.1:9002\n127.0.0.1:notaport\n";
  std::ofstream(dir / "empty.txt") << "# nothing\n\n";
  struct Case {
    std::string args, expect;
  } cases[] = {
      {"lb --listen 127.0.0.1:0", "no backends"},
      {"lb --listen 127.0.0.1:0 --backends " + (dir / "bad.txt").string(), "bad.txt:3"},
      {"lb --listen 127.0.0.1:0 --backends " + (dir / "empty.txt").string(), "empty.txt"},
      {"lb --listen 127.0.0.1:0 --backend nowhere", "nowhere"},
      {"lb --listen 127.0.0.1:0 --backend 127.0.0.1:1 --policy random", "policy"},
      {"lb --listen 127.0.0.1:0 --backend 127.0.0.1:1 --uring-relay zerocopy", "--uring-relay"},
      {"lb --backend 127.0.0.1:1", "--listen"},
  };
  for (const Case& c : cases) {
    std::string out = run_command(std::string(RINGWIRE_BINARY) + " " + c.args + " 2>&1; echo exit=$?");
    EXPECT_EQ(out.find("exit=0"), std::string::npos) << c.args << ": " << out;
    EXPECT_NE(out.find(c.expect), std::string::npos) << c.args << ": " << out;
  }
  fs::remove_all(dir);
}

}  // namespace
