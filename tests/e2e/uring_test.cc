// Integration tests of the uring engine alone: an exhausted buffer ring, the
// fallback to the reactor when io_uring is forbidden, and uring as the
// default. The engine-generic edge cases live in pipelining_test.cc and
// lifecycle_test.cc.
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

// Cases about the uring engine alone (its buffer ring, its fallback, the default).
class UringTest : public DocrootTest {};

// Opens `conns` connections, then `rounds` times sends `req` on every one
// before reading any answer, so that each round lands in as few loop turns
// as possible; every answer must be the page.
void all_at_once(int port, size_t conns, int rounds, const std::string& req) {
  std::vector<int> fds;
  for (size_t i = 0; i < conns; ++i) {
    int fd = connect_to(port);
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  for (int round = 0; round < rounds; ++round) {
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
}

TEST_F(UringTest, BufferRingExhaustion) {
  // Eight 1 KiB buffers for 300 connections that each send 3 KiB at once:
  // the ring runs dry again and again, and every recv must be re-armed.
  Server s("uring", www(), {"--workers", "1", "--ring-buffers", "8", "--log-level", "debug"});
  all_at_once(s.port(), 300, 3, padded_request(3 * 1024));
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

TEST_F(UringTest, TurnWithMoreCompletionsThanTheCqHolds) {
  // A 16-entry CQ and 300 connections whose requests all land in one turn:
  // the kernel keeps the completions that do not fit on its overflow list,
  // and every one of them must still be handled.
  Server s("uring", www(), {"--workers", "1", "--ring-cq", "16", "--log-level", "debug"});
  all_at_once(s.port(), 300, 3, kGetPage);
  int status = s.stop();
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // The CQ must really have overflowed for this test to mean anything.
  const std::string& log = s.log();
  size_t at = log.find(" CQ overflow flushes");
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
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
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
