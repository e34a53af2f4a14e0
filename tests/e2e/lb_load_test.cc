// `ringwire lb` relaying at scale, over real sockets on both engines (and
// io_uring's three relay modes): 4,000 relays moving data at once, with pool
// pipes and with none to be had, the descriptors given back after; and a
// client that stops reading (the balancer's memory stays bounded).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "lb_harness.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace ringwire::test;

// The number of descriptors `pid` has open.
size_t open_fds(pid_t pid) {
  size_t n = 0;
  std::error_code ec;
  for (fs::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end; it.increment(ec))
    ++n;
  return n;
}

// The resident set of `pid` in KiB (VmRSS), or -1.
long rss_kib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

// A backend that streams `total` bytes to each connection as fast as it is
// let, one connection at a time, counting what the kernel took on the
// current one. (The balancer's health probes connect too, and reset at
// once: their connections fail quickly and the next one is served.)
class Streamer {
 public:
  explicit Streamer(size_t total) {
    listener_ = listen_loopback(port_, 8, true);
    thread_ = std::thread([this, total] {
      std::string chunk(1 << 16, 's');
      while (!stopping_) {
        pollfd p{listener_, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        int c = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        timeval tv{20, 0};
        setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        sent_ = 0;
        while (sent_ < total && !stopping_) {
          ssize_t n = send(c, chunk.data(), std::min(chunk.size(), total - sent_), MSG_NOSIGNAL);
          if (n <= 0) break;
          sent_ += static_cast<size_t>(n);
        }
        close(c);
      }
    });
  }
  ~Streamer() {
    stopping_ = true;
    thread_.join();
    close(listener_);
  }
  int port() const { return port_; }
  size_t sent() const { return sent_.load(); }

 private:
  int listener_ = -1;
  int port_ = 0;
  std::atomic<size_t> sent_{0};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

class LbLoadTest : public LbFixture {};

// Run in a child before exec: from then on pipe2(2) with the pipe pool's
// flags (O_NONBLOCK | O_CLOEXEC) fails with EMFILE in it, as it does once a
// process is out of descriptors. A seccomp filter (kept across execve under
// no_new_privs) says so for every call, where a descriptor limit would cut
// in only at one unpredictable moment. Other pipes are left alone: the
// sanitizers' runtime makes its own (flags 0) to probe memory.
void fail_pool_pipes_with_emfile() {
  constexpr uint32_t kFlagsLow =
      offsetof(seccomp_data, args) + sizeof(uint64_t) + (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? 4 : 0);
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_pipe2, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kFlagsLow),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, O_NONBLOCK | O_CLOEXEC, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EMFILE & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(std::size(filter)), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
    _exit(126);
}

// 4,000 client connections, all open at once, each sending 64 KiB and
// reading it back through the balancer (on two workers). Every byte must
// come back. Once every connection has closed, the balancer holds what it
// held before, plus the idle pipes its pools may keep (256 per worker, two
// descriptors each). With `no_pipes`, the balancer can make no pipe.
void echo_at_once(const char* engine, bool no_pipes) {
  constexpr int kConns = 4000;
  constexpr size_t kBytes = 64 * 1024;
  constexpr int kWorkers = 2;
  EpollEcho echo({}, 2);
  std::vector<std::string> args = {
      RINGWIRE_BINARY,         "lb", "--listen", "127.0.0.1:0", "--workers", std::to_string(kWorkers), "--backend",
      backend_arg(echo.port())};
  std::vector<std::string> engine_args = lb_engine_args(engine);
  args.insert(args.end(), engine_args.begin(), engine_args.end());
  Server lb(std::move(args), [no_pipes] {
    if (no_pipes) fail_pool_pipes_with_emfile();
  });
  std::this_thread::sleep_for(100ms);
  const size_t baseline = open_fds(lb.pid());

  // Each connection sends its own slice of a random pattern, so bytes
  // crossed between relays would show.
  std::string pattern(kBytes + 4096, '\0');
  uint64_t x = 12345;
  for (char& c : pattern) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    c = static_cast<char>(x >> 56);
  }
  struct Client {
    int fd = -1;
    size_t sent = 0;
    size_t got = 0;
    bool shut = false;
    bool done = false;
    bool ok = false;
  };
  std::vector<Client> clients(kConns);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  // Whatever ends the test, this process gets its descriptors back.
  struct Closer {
    std::vector<Client>& clients;
    int ep;
    ~Closer() {
      for (Client& c : clients)
        if (c.fd >= 0 && !c.done) close(c.fd);
      close(ep);
    }
  } closer{clients, ep};
  sockaddr_in a = loopback(lb.port());
  for (int i = 0; i < kConns; ++i) {
    Client& c = clients[i];
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(c.fd, 0) << i << ": " << strerror(errno);
    int rcvbuf = 4096;
    setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int rc = connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ASSERT_TRUE(rc == 0 || errno == EINPROGRESS) << i << ": " << strerror(errno);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
  }
  // Drives one client as far as its socket lets it. The clients read
  // nothing until all have sent everything (or sending has stalled), and
  // their receive windows are small, so the echoed bytes wait on the
  // balancer's side, every relay busy at once. A client shuts its sending
  // side only once every client has had its bytes back, so all 4,000
  // relays are open together, whatever the speed of the build.
  std::vector<char> buf(1 << 16);
  int sent_all = 0;
  int echoed = 0;
  bool reading = false;
  bool released = false;
  auto last_send = std::chrono::steady_clock::now();
  auto drive = [&](int i) {
    Client& c = clients[i];
    const char* mine = pattern.data() + i % 4096;
    while (c.sent < kBytes) {
      ssize_t n = send(c.fd, mine + c.sent, kBytes - c.sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EAGAIN) break;
      if (n <= 0) {
        c.done = true;
        return;
      }
      c.sent += static_cast<size_t>(n);
      last_send = std::chrono::steady_clock::now();
      if (c.sent == kBytes) ++sent_all;
    }
    while (reading) {
      ssize_t n = recv(c.fd, buf.data(), buf.size(), 0);
      if (n < 0 && errno == EAGAIN) return;
      if (n <= 0) {
        c.done = true;
        c.ok = n == 0 && c.got == kBytes && c.shut;
        return;
      }
      if (c.got + static_cast<size_t>(n) > kBytes || memcmp(buf.data(), mine + c.got, static_cast<size_t>(n)) != 0) {
        c.done = true;
        return;
      }
      c.got += static_cast<size_t>(n);
      if (c.got == kBytes) ++echoed;
    }
  };
  int finished = 0;
  int peak_open = 0;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  epoll_event events[512];
  while (finished < kConns && std::chrono::steady_clock::now() < deadline) {
    int n = epoll_wait(ep, events, 512, 100);
    for (int k = 0; k < n; ++k) {
      int i = static_cast<int>(events[k].data.u32);
      if (clients[i].done) continue;
      drive(i);
      if (clients[i].done) {
        ++finished;
        close(clients[i].fd);
      }
    }
    if (!reading && (sent_all + finished >= kConns || std::chrono::steady_clock::now() - last_send > 1s)) {
      reading = true;  // edges already reported were ignored: drive every client once
      for (int i = 0; i < kConns; ++i) {
        if (clients[i].done) continue;
        drive(i);
        if (clients[i].done) {
          ++finished;
          close(clients[i].fd);
        }
      }
    }
    peak_open = std::max(peak_open, echo.open());
    if (!released && echoed + finished >= kConns) {
      released = true;
      for (Client& c : clients) {
        if (c.done) continue;
        shutdown(c.fd, SHUT_WR);
        c.shut = true;
      }
    }
  }
  int ok = 0;
  std::string failures;
  for (int i = 0; i < kConns; ++i) {
    Client& c = clients[i];
    if (c.ok) {
      ++ok;
    } else if (failures.size() < 400) {
      failures += " #" + std::to_string(i) + " sent " + std::to_string(c.sent) + " got " + std::to_string(c.got);
    }
  }
  EXPECT_EQ(ok, kConns) << "failed:" << failures << "\n" << lb.log().substr(0, 2000);
  EXPECT_EQ(peak_open, kConns) << "the relays were open together";

  const size_t idle_pipe_fds = kWorkers * 256 * 2;
  size_t now = 0;
  EXPECT_TRUE(wait_until(
      [&] {
        now = open_fds(lb.pid());
        return now <= baseline + idle_pipe_fds;
      },
      10s))
      << "the balancer had " << baseline << " descriptors before and " << now << " after";
  EXPECT_TRUE(wait_until([&] { return echo.open() == 0; }, 10s)) << echo.open();
  const std::string& log = lb.log();
  EXPECT_EQ(log.find("no backend available"), std::string::npos) << log.substr(0, 2000);
}

// Under the machine's descriptor limit (20,000 here) with 8,000 sockets.
// (On loopback a relay direction rarely keeps its pipe: the socket buffers
// take what is spliced in at once, so a worker seldom needs more than one.)
TEST_P(LbLoadTest, FourThousandConcurrentRelaysEchoEveryByteAndGiveTheirFdsBack) {
  echo_at_once(GetParam(), false);
}

// No pipe can be had (pipe2 fails with EMFILE, as when the descriptors or
// fs.pipe-user-pages-soft run out): every relay direction copies through
// its 16 KiB buffer instead, and still no connection fails and every byte
// comes back.
TEST_P(LbLoadTest, FourThousandConcurrentRelaysCopyWhenNoPipeCanBeMade) {
  echo_at_once(GetParam(), true);
}

// A client that stops reading while its backend streams 200 MiB: the relay
// holds at most a pipe (or a buffer) per direction and stops reading from
// the backend, so the balancer's memory does not grow, and the backend's
// sends stall once the kernel's socket buffers are full. Then the client
// reads, and all 200 MiB arrive.
TEST_P(LbLoadTest, AClientThatStopsReadingKeepsTheBalancerSmall) {
  constexpr size_t kTotal = size_t{200} << 20;
  Streamer streamer(kTotal);
  Server lb = Server::lb(GetParam(), {"--backend", backend_arg(streamer.port()), "--health-interval", "60"});
  std::this_thread::sleep_for(100ms);  // the first health probe comes and goes
  int fd = connect_to(lb.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(wait_until([&] { return streamer.sent() > (size_t{1} << 20); }, 3000ms));
  std::this_thread::sleep_for(200ms);
  const long before = rss_kib(lb.pid());
  std::this_thread::sleep_for(2s);
  const long after = rss_kib(lb.pid());
  ASSERT_GT(before, 0);
  EXPECT_LT(after - before, 8 * 1024) << "VmRSS " << before << " KiB -> " << after << " KiB";
  EXPECT_LT(streamer.sent(), size_t{64} << 20) << "the backend was not held back";

  size_t got = 0;
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  EXPECT_EQ(got, kTotal);
}

INSTANTIATE_TEST_SUITE_P(Engines, LbLoadTest, ::testing::ValuesIn(kLbEngines), EngineName());

}  // namespace
