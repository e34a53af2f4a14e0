// Integration tests aimed at what a completion-driven engine makes delicate:
// requests split over many segments and receive buffers, long pipelined
// bursts, a stop with work outstanding, an exhausted buffer ring, and the
// fallback to the reactor when io_uring is forbidden. The engine-generic cases
// run on `reactor` too, so the reactor is the reference `uring` is held to.
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace ringwire::test;

const char kPage[] = "<html><body>small</body></html>\n";
const char kGetPage[] = "GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n";

// A docroot in a temporary directory per test: a small page and a 300 KiB file.
class DocrootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fresh_test_dir();
    fs::create_directories(root_ / "www");
    write(root_ / "www" / "page.html", kPage);
    big_.resize(300 * 1024);
    for (size_t i = 0; i < big_.size(); ++i) big_[i] = static_cast<char>('a' + i % 26);
    write(root_ / "www" / "big.bin", big_);
  }
  void TearDown() override { fs::remove_all(root_); }

  static void write(const fs::path& p, const std::string& s) {
    std::ofstream(p, std::ios::binary) << s;
  }
  std::string www() const { return (root_ / "www").string(); }

  fs::path root_;
  std::string big_;
};

// The cases every engine must pass; the parameter is the engine.
class EdgeTest : public DocrootTest, public ::testing::WithParamInterface<const char*> {};

// Cases about the uring engine alone (its buffer ring, its fallback, the default).
class UringTest : public DocrootTest {};

// A GET for the page carrying `pad_bytes` of extra header fields (of at most
// 1000 bytes each, so the field count stays far under the parser's limit).
std::string padded_request(size_t pad_bytes) {
  std::string req = "GET /page.html HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; pad_bytes > 0; ++i) {
    size_t n = std::min<size_t>(pad_bytes, 1000);
    req += "X-Pad-" + std::to_string(i) + ": " + std::string(n, 'p') + "\r\n";
    pad_bytes -= n;
  }
  return req + "\r\n";
}

int connect_nodelay(int port) {
  int fd = connect_to(port);
  int one = 1;
  if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Sends `s` in `chunk`-byte writes, pausing 1 ms every `pause_every` writes so
// the pieces reach the server as separate segments rather than one.
void send_in_chunks(int fd, const std::string& s, size_t chunk, int pause_every) {
  int writes = 0;
  for (size_t off = 0; off < s.size(); off += chunk) {
    size_t n = std::min(chunk, s.size() - off);
    ASSERT_EQ(send(fd, s.data() + off, n, MSG_NOSIGNAL), static_cast<ssize_t>(n));
    if (++writes % pause_every == 0) std::this_thread::sleep_for(1ms);
  }
}

// What the peer did within `ms`: 0 for an orderly close (EOF), 1 for data,
// -1 for nothing (still open), -2 for a reset or another error.
int peer_event(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, ms) <= 0) return -1;
  char c;
  ssize_t n = recv(fd, &c, 1, MSG_PEEK);
  if (n == 0) return 0;
  return n > 0 ? 1 : -2;
}

// Reads whatever comes until the peer closes; false if it is still open after `ms`.
bool read_until_closed(int fd, int ms, std::string& out) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return true;
    out.append(buf, n);
  }
  return false;
}

// Waits (bounded) until `pid` has exited, without reaping it: the Server does that.
bool exited_within(pid_t pid, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream f(path);
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    size_t at = stat.rfind(") ");
    if (at == std::string::npos || stat[at + 2] == 'Z') return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

TEST_P(EdgeTest, RequestSentOneByteAtATime) {
  Server s(GetParam(), www());
  int fd = connect_nodelay(s.port());
  ASSERT_GE(fd, 0);
  send_in_chunks(fd, kGetPage, 1, 1);
  std::string pending;
  Response r;
  ASSERT_TRUE(read_response(fd, pending, r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kPage);
  close(fd);
}

TEST_P(EdgeTest, TwelveKibHeadInSevenByteChunks) {
  Server s(GetParam(), www());
  int fd = connect_nodelay(s.port());
  ASSERT_GE(fd, 0);
  // 12 KiB spans several 4 KiB receive buffers, and 7 does not divide 4096,
  // so the head's pieces straddle every buffer boundary.
  std::string req = padded_request(12 * 1024);
  send_in_chunks(fd, req, 7, 64);
  std::string pending;
  Response r;
  ASSERT_TRUE(read_response(fd, pending, r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kPage);
  // The connection is still framed right for the next request.
  send_in_chunks(fd, req, 7, 64);
  send_all(fd, kGetPage);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(read_response(fd, pending, r)) << i;
    EXPECT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.body, kPage) << i;
  }
  close(fd);
}

TEST_P(EdgeTest, FiveThousandPipelinedRequestsInOrder) {
  Server s(GetParam(), www());
  int fd = connect_to(s.port());
  ASSERT_GE(fd, 0);
  constexpr int kRequests = 5000;
  std::string burst;
  for (int i = 0; i < kRequests; ++i) {
    switch (i % 3) {
      case 0:
        burst += kGetPage;
        break;
      case 1:
        burst += "HEAD /page.html HTTP/1.1\r\nHost: x\r\n\r\n";
        break;
      default:
        burst += "GET /missing-" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
    }
  }
  // The burst is written in one go while this thread reads: a client that
  // wrote everything before reading would deadlock against full buffers.
  size_t sent = 0;
  std::thread writer([&] {
    while (sent < burst.size()) {
      ssize_t n = send(fd, burst.data() + sent, burst.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += n;
    }
  });
  std::string pending;
  int answered = 0;
  for (; answered < kRequests; ++answered) {
    int kind = answered % 3;
    Response r;
    if (!read_response(fd, pending, r, kind == 1)) break;
    bool ok = kind == 2 ? r.status == 404
                        : r.status == 200 && r.body == (kind == 0 ? kPage : "") &&
                              r.headers.find("Content-Length: 32\r\n") != std::string::npos;
    if (!ok) {
      ADD_FAILURE() << "response " << answered << ": " << r.headers;
      break;
    }
  }
  shutdown(fd, SHUT_RDWR);  // frees the writer if the server stopped reading
  writer.join();
  EXPECT_EQ(answered, kRequests);
  EXPECT_EQ(sent, burst.size());
  close(fd);
}

TEST_P(EdgeTest, MaxConnsHoldsTheNextClientUntilOneCloses) {
  Server s(GetParam(), www(), {"--workers", "1", "--max-conns", "2"});
  int a = connect_to(s.port());
  int b = connect_to(s.port());
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  for (int fd : {a, b}) {
    send_all(fd, kGetPage);
    std::string pending;
    Response r;
    ASSERT_TRUE(read_response(fd, pending, r));
    ASSERT_EQ(r.status, 200);
  }
  // The third connection completes its handshake in the kernel's backlog,
  // but the server does not take it while two are open.
  int c = connect_to(s.port());
  ASSERT_GE(c, 0);
  send_all(c, kGetPage);
  EXPECT_EQ(peer_event(c, 500), -1) << "answered over --max-conns";
  close(a);
  std::string pending;
  Response r;
  ASSERT_TRUE(read_response(c, pending, r)) << "not served after a slot freed";
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kPage);
  close(b);
  close(c);
}

TEST_P(EdgeTest, StopWithConnectionsOpen) {
  // On loopback the server's send buffer grows to about 3 MiB, which would
  // swallow big.bin whole; 8 MiB keeps the response in flight at the stop.
  // Its bytes are pseudo-random, so a lost or repeated piece cannot go unseen.
  std::string huge(8 << 20, '\0');
  uint32_t x = 12345;
  for (char& ch : huge) {
    x = x * 1103515245 + 12345;
    ch = static_cast<char>(x >> 24);
  }
  write(root_ / "www" / "huge.bin", huge);
  auto start = std::chrono::steady_clock::now();
  Server s(GetParam(), www());
  std::vector<int> idle, partial;
  for (int i = 0; i < 50; ++i) {
    int fd = connect_to(s.port());
    ASSERT_GE(fd, 0);
    idle.push_back(fd);
    send_all(fd, kGetPage);
    std::string pending;
    Response r;
    ASSERT_TRUE(read_response(fd, pending, r));
    ASSERT_EQ(r.status, 200);
  }
  for (int i = 0; i < 5; ++i) {
    int fd = connect_to(s.port());
    ASSERT_GE(fd, 0);
    partial.push_back(fd);
    send_all(fd, "GET /page.html HTTP/1.1\r\nHo");
  }
  int slow = connect_to(s.port(), 4096);
  ASSERT_GE(slow, 0);
  send_all(slow, "GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(300ms);  // the server has read everything and the slow send is stuck

  ASSERT_EQ(kill(s.pid(), SIGTERM), 0);
  std::string pending;
  Response r;
  ASSERT_TRUE(read_response(slow, pending, r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), huge.size());
  EXPECT_TRUE(r.body == huge) << "huge.bin arrived altered";
  EXPECT_EQ(peer_event(slow, 2000), 0) << "the finished connection is closed";
  for (size_t i = 0; i < idle.size(); ++i) EXPECT_EQ(peer_event(idle[i], 2000), 0) << "idle " << i;
  // Accepting has stopped: a new connection is refused, or closed unanswered.
  int late = connect_to(s.port());
  if (late >= 0) {
    std::string got;
    EXPECT_TRUE(read_until_closed(late, 1000, got));
    EXPECT_EQ(got, "");
    close(late);
  }

  // A half-sent head may be closed at once or held to the end of the grace period.
  EXPECT_TRUE(exited_within(s.pid(), 6500ms));
  int status = s.stop();
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  for (size_t i = 0; i < partial.size(); ++i) {
    std::string got;
    EXPECT_TRUE(read_until_closed(partial[i], 500, got)) << "partial " << i;
    EXPECT_FALSE(got.starts_with("HTTP/1.1 200")) << "partial " << i;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 8s);
  for (int fd : idle) close(fd);
  for (int fd : partial) close(fd);
  close(slow);
}

INSTANTIATE_TEST_SUITE_P(EdgeEngines, EdgeTest, ::testing::Values("reactor", "uring"),
                         [](const auto& info) { return std::string(info.param); });

TEST_F(UringTest, BufferRingExhaustion) {
  // Eight 1 KiB buffers for 300 connections that each send 3 KiB at once:
  // the ring runs dry again and again, and every recv must be re-armed.
  Server s("uring", www(), {"--workers", "1", "--ring-buffers", "8", "--log-level", "debug"});
  const std::string req = padded_request(3 * 1024);
  std::vector<int> fds;
  for (int i = 0; i < 300; ++i) {
    int fd = connect_to(s.port());
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  for (int round = 0; round < 3; ++round) {
    for (int fd : fds) send_all(fd, req);
    for (size_t i = 0; i < fds.size(); ++i) {
      std::string pending;
      Response r;
      ASSERT_TRUE(read_response(fds[i], pending, r)) << "round " << round << " conn " << i;
      ASSERT_EQ(r.status, 200) << "round " << round << " conn " << i;
      ASSERT_EQ(r.body, kPage) << "round " << round << " conn " << i;
    }
  }
  for (int fd : fds) close(fd);
  Response after = request(s.port(), kGetPage);
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body, kPage);
  int status = s.stop();
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // The worker's closing line counts the receives that ended with ENOBUFS:
  // the ring must really have run dry for this test to mean anything.
  const std::string& log = s.log();
  size_t at = log.find(" receives re-armed after ENOBUFS");
  ASSERT_NE(at, std::string::npos) << log;
  size_t start = log.rfind(", ", at);
  ASSERT_NE(start, std::string::npos) << log;
  EXPECT_GT(std::stoul(log.substr(start + 2, at - start - 2)), 0u) << log;
}

#if defined(__x86_64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#else
constexpr uint32_t kAuditArch = 0;  // not written for this architecture: the test skips
#endif

// Runs in the forked child before exec: io_uring_setup fails with EPERM, the
// way container runtimes forbid it. The filter survives exec.
void forbid_io_uring() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    _exit(126);
  }
}

TEST_F(UringTest, FallsBackToReactorWhenIoUringIsForbidden) {
  if (kAuditArch == 0) GTEST_SKIP() << "no seccomp filter for this architecture";
  for (const char* engine : {"uring", ""}) {
    SCOPED_TRACE(std::string("--engine '") + engine + "'");
    Server s(engine, www(), {}, forbid_io_uring);
    Response r = request(s.port(), kGetPage);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, kPage);
    int status = s.stop();
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
    const std::string& log = s.log();
    EXPECT_EQ(count(log, "io_uring unavailable"), 1u) << log;
    EXPECT_NE(log.find("(engine reactor"), std::string::npos) << log;
  }
}

TEST_F(UringTest, DefaultEngineIsUring) {
  Server s("", www());
  EXPECT_NE(s.log().find("(engine uring"), std::string::npos) << s.log();
  Response r = request(s.port(), kGetPage);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, kPage);
}

}  // namespace
