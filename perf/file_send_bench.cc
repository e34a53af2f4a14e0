// How the io_uring engine should put bytes on a TCP socket, measured over a
// real loopback connection: for a file range from the page cache, sendfile(2)
// inline with a POLLOUT poll (the engine's current path) against io_uring
// splice through a pipe and against io_uring read into a buffer plus send; for
// in-memory segments, io_uring send against send_zc.
//
// Every run opens one connection on 127.0.0.1 to a forked child process that
// reads and discards everything, so the reader's CPU time never shows up in
// this process. The benchmark thread is the server. Besides bytes per second
// each run reports `cpu_us_per_MiB`: the whole process's CPU time (getrusage
// RUSAGE_SELF) per MiB sent. That counts the io-wq worker threads the kernel
// starts for a ring, which the CPU column (the benchmark thread only) misses,
// and it is the number to compare when the reader is the bottleneck and every
// method reaches the same throughput. On loopback the sender's CPU time also
// includes the TCP receive processing, which the kernel runs in softirq context
// on the sending CPU when the packet is looped back.
//
// Run it pinned, the reader then takes the other core:
//   taskset -c 1 build/perf/file_send_bench --benchmark_min_time=0.2
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "core/fd.h"

// Kernel 6.2 ABI that liburing 2.3's header predates: ask send_zc to say, in
// each notification, whether the kernel had to copy the data after all.
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

namespace {

using ringwire::core::Fd;

constexpr double kMiB = 1 << 20;
// A little more than the largest range, so no range ends at end of file.
constexpr size_t kFileSize = (1 << 20) + (64 << 10);
constexpr size_t kSegmentMax = 256 << 10;
// Every wait in this file, for a completion, a connection or the reader, ends
// after this long with an error instead of hanging.
constexpr int kWaitMs = 5000;

// The test file, opened in main() and read by every file-range benchmark.
int g_file = -1;

// user_data tags: which operation a completion belongs to.
enum Op : uint64_t { kPollOut = 1, kFill, kDrain, kRead, kSend };

std::string sys_error(const char* what, int err) {
  return fmt::format("{}: {}", what, std::strerror(err));
}

// Whole-process CPU time, user plus system, in microseconds. io-wq workers are
// threads of this process (they share its thread group), so their time is in
// here too, including that of workers that have already exited.
double process_cpu_us() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

// Memory aligned to a page, so a registered buffer pins no more pages than it
// needs, filled with a pattern.
struct FreeDeleter {
  void operator()(char* p) const noexcept { std::free(p); }
};
using PageBuffer = std::unique_ptr<char[], FreeDeleter>;

PageBuffer page_buffer(size_t size) {
  PageBuffer b(static_cast<char*>(std::aligned_alloc(4096, size)));
  if (b) {
    for (size_t i = 0; i < size; ++i) b[i] = static_cast<char>('a' + i % 26);
  }
  return b;
}

// Moves the calling process off the CPUs its parent is pinned to, when the
// parent is pinned to some but not all of them (taskset -c 1): the reader then
// runs on the other core, as the load generator does in DESIGN.md's setup,
// and does not compete with the sender for its core.
void pin_away_from_parent() {
  cpu_set_t parent;
  CPU_ZERO(&parent);
  if (::sched_getaffinity(0, sizeof parent, &parent) < 0) return;
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t others;
  CPU_ZERO(&others);
  for (long i = 0; i < cpus && i < CPU_SETSIZE; ++i) {
    if (!CPU_ISSET(i, &parent)) CPU_SET(i, &others);
  }
  if (CPU_COUNT(&others) > 0) ::sched_setaffinity(0, sizeof others, &others);
}

// The reader, in the forked child: connects, reads everything until the
// server half-closes, answers with the byte count it saw, and exits.
[[noreturn]] void run_reader(pid_t parent, uint16_t port) {
  // The child must not outlive a benchmark that crashed or was killed.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(1);
  pin_away_from_parent();
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (s < 0 || ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) ::_exit(2);
  constexpr size_t kBuf = 1 << 20;
  char* buf = static_cast<char*>(std::malloc(kBuf));
  if (!buf) ::_exit(3);
  uint64_t total = 0;
  for (;;) {
    ssize_t n = ::recv(s, buf, kBuf, 0);
    if (n > 0) {
      total += static_cast<uint64_t>(n);
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      ::_exit(4);
    }
  }
  if (::send(s, &total, sizeof total, MSG_NOSIGNAL) != sizeof total) ::_exit(5);
  // _exit, not exit: the child must not run the benchmark's atexit handlers
  // or flush the stdio buffers it inherited.
  ::_exit(0);
}

// Peer is the server end of one loopback TCP connection whose client end
// lives in a forked reader process. The reader being a separate process keeps
// its CPU time out of RUSAGE_SELF until it is reaped, which is after the
// measurement.
class Peer {
 public:
  Peer() = default;
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;
  ~Peer() {
    if (child_ > 0) {
      ::kill(child_, SIGKILL);
      ::waitpid(child_, nullptr, 0);
    }
  }

  // Forks the reader and accepts its connection. The server end is
  // nonblocking with TCP_NODELAY, as ringwire's accepted sockets are.
  // Returns an error message, empty on success.
  std::string open() {
    Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!listener) return sys_error("socket", errno);
    const int one = 1;
    // Linux copies TCP_NODELAY from the listener to the accepted socket.
    ::setsockopt(listener.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(listener.get(), 1) < 0 ||
        ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &alen) < 0) {
      return sys_error("listen on 127.0.0.1:0", errno);
    }
    const pid_t parent = ::getpid();
    child_ = ::fork();
    if (child_ < 0) return sys_error("fork", errno);
    if (child_ == 0) {
      listener.reset();
      run_reader(parent, ntohs(a.sin_port));
    }
    pollfd p{listener.get(), POLLIN, 0};
    if (::poll(&p, 1, kWaitMs) != 1) return "the reader did not connect within 5 s";
    sock_.reset(::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!sock_) return sys_error("accept4", errno);
    return {};
  }

  // Half-closes the connection and checks that the reader received exactly
  // `sent` bytes, then reaps it. Returns an error message, empty on success.
  std::string close(uint64_t sent) {
    ::shutdown(sock_.get(), SHUT_WR);
    uint64_t got = 0;
    size_t have = 0;
    while (have < sizeof got) {
      pollfd p{sock_.get(), POLLIN, 0};
      if (::poll(&p, 1, kWaitMs) != 1) return "the reader did not report its byte count within 5 s";
      ssize_t n = ::recv(sock_.get(), reinterpret_cast<char*>(&got) + have, sizeof got - have, 0);
      if (n == 0) return "the reader closed without reporting its byte count";
      if (n < 0 && errno != EINTR && errno != EAGAIN) return sys_error("recv from the reader", errno);
      if (n > 0) have += static_cast<size_t>(n);
    }
    int status = 0;
    pid_t r = 0;
    for (int ms = 0; ms < kWaitMs && (r = ::waitpid(child_, &status, WNOHANG)) == 0; ++ms) {
      ::usleep(1000);
    }
    if (r != child_) return "the reader did not exit within 5 s";
    child_ = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "the reader failed";
    if (got != sent) return fmt::format("sent {} bytes but the reader received {}", sent, got);
    return {};
  }

  int fd() const noexcept { return sock_.get(); }

 private:
  Fd sock_;
  pid_t child_ = -1;
};

// How an in-memory segment goes out.
enum class Send { kCopy, kZeroCopy, kZeroCopyFixed };

// Bench is what every benchmark sets up before its timed loop: a fresh reader
// and connection, and a fresh ring set up the way the engine sets up its own
// (proactor/ring.cc). It also holds the few helpers the benchmarks share.
// Every failure marks the run skipped at once; the caller then breaks out of
// its loop.
class Bench {
 public:
  explicit Bench(benchmark::State& state) : state_(state) {}
  Bench(const Bench&) = delete;
  Bench& operator=(const Bench&) = delete;
  ~Bench() {
    if (ring_ok_) io_uring_queue_exit(&ring_);
  }

  bool open() {
    if (std::string e = peer_.open(); !e.empty()) return fail(e);
    // SINGLE_ISSUER with DEFER_TASKRUN (6.1) makes the kernel run completion
    // work only when this thread enters it to wait, as in the engine.
    const unsigned modes[] = {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_COOP_TASKRUN, 0};
    int rc = -EINVAL;
    for (unsigned flags : modes) {
      io_uring_params p{};
      p.flags = flags | IORING_SETUP_CQSIZE;
      p.cq_entries = 256;
      rc = io_uring_queue_init_params(64, &ring_, &p);
      if (rc != -EINVAL) break;
    }
    if (rc < 0) return fail(sys_error("io_uring_queue_init_params", -rc));
    ring_ok_ = true;
    // The kernel lets io-wq workers run on every CPU of the cgroup, whatever
    // the thread that made the ring is pinned to. Confine them to this
    // thread's CPUs, so that splice, which always runs on io-wq, cannot
    // borrow the reader's core and look faster than it would in a server
    // that already keeps every core busy.
    cpu_set_t mask;
    CPU_ZERO(&mask);
    ::sched_getaffinity(0, sizeof mask, &mask);
    rc = io_uring_register_iowq_aff(&ring_, sizeof mask, &mask);
    if (rc < 0) return fail(sys_error("io_uring_register_iowq_aff", -rc));
    return true;
  }

  // Starts the process CPU clock; call right before the timed loop.
  void start() { cpu_start_us_ = process_cpu_us(); }

  // Stops the clock, checks that the reader received every byte, and reports
  // bytes per second and cpu_us_per_MiB.
  void finish() {
    const double cpu_us = process_cpu_us() - cpu_start_us_;
    if (failed_) return;
    if (std::string e = peer_.close(sent_); !e.empty()) {
      fail(e);
      return;
    }
    state_.SetBytesProcessed(static_cast<int64_t>(sent_));
    if (sent_ > 0) state_.counters["cpu_us_per_MiB"] = cpu_us / (sent_ / kMiB);
  }

  bool fail(const std::string& msg) {
    if (!failed_) state_.SkipWithError(msg.c_str());
    failed_ = true;
    return false;
  }

  bool failed() const noexcept { return failed_; }
  int sock() const noexcept { return peer_.fd(); }
  io_uring* ring() noexcept { return &ring_; }
  void count_sent(size_t n) noexcept { sent_ += n; }

  io_uring_sqe* sqe(uint64_t op) {
    // The SQ holds 64 entries and no benchmark queues more than two before
    // it waits, so there is always one free.
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    io_uring_sqe_set_data64(s, op);
    return s;
  }

  // Submits what is queued and waits for one completion, which the caller
  // marks seen. Fails after kWaitMs.
  bool wait(io_uring_cqe** cqe) {
    for (;;) {
      __kernel_timespec ts{};
      ts.tv_sec = kWaitMs / 1000;
      *cqe = nullptr;
      // It returns how many SQEs it submitted, or -errno.
      int rc = io_uring_submit_and_wait_timeout(&ring_, cqe, 1, &ts, nullptr);
      if (rc >= 0 && (*cqe || io_uring_peek_cqe(&ring_, cqe) == 0)) return true;
      if (rc == -EINTR) continue;
      if (rc == -ETIME || rc >= 0) return fail("no completion within 5 s");
      return fail(sys_error("io_uring_submit_and_wait_timeout", -rc));
    }
  }

  // Waits, with a one-shot io_uring poll as the engine does, until the socket
  // takes more data. TCP reports POLLOUT only once a third of the send buffer
  // is free again (sk_stream_min_wspace), so each wait is followed by a large
  // write rather than a trickle.
  bool wait_writable() {
    ++polls_;
    io_uring_prep_poll_add(sqe(kPollOut), sock(), POLLOUT);
    io_uring_cqe* cqe;
    if (!wait(&cqe)) return false;
    const int res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    if (res < 0) return fail(sys_error("poll POLLOUT", -res));
    if (res & (POLLERR | POLLHUP)) return fail("the connection failed while waiting for POLLOUT");
    return true;
  }

  // Sends all n bytes at p, one send in flight at a time (two could complete
  // out of order once the socket buffer fills). For kZeroCopyFixed, p must lie
  // in registered buffer 0.
  bool send_all(const char* p, size_t n, Send how) {
    while (n > 0) {
      io_uring_sqe* s = sqe(kSend);
      if (how == Send::kCopy) {
        io_uring_prep_send(s, sock(), p, n, MSG_NOSIGNAL);
      } else if (how == Send::kZeroCopy) {
        io_uring_prep_send_zc(s, sock(), p, n, MSG_NOSIGNAL, IORING_SEND_ZC_REPORT_USAGE);
      } else {
        io_uring_prep_send_zc_fixed(s, sock(), p, n, MSG_NOSIGNAL, IORING_SEND_ZC_REPORT_USAGE, 0);
      }
      // Wait for this send's result. Notifications of earlier zero-copy sends
      // may come first; they carry the same user_data, told apart by flag.
      for (;;) {
        io_uring_cqe* cqe;
        if (!wait(&cqe)) return false;
        const int res = cqe->res;
        const unsigned flags = cqe->flags;
        io_uring_cqe_seen(&ring_, cqe);
        if (flags & IORING_CQE_F_NOTIF) {
          on_notif(res);
          continue;
        }
        // F_MORE promises a notification: the kernel posts it once it no
        // longer references the pages, and only then may they be changed.
        if (flags & IORING_CQE_F_MORE) ++notifs_pending_;
        if (res <= 0) return fail(res == 0 ? "send made no progress" : sys_error("send", -res));
        p += res;
        n -= static_cast<size_t>(res);
        break;
      }
    }
    return true;
  }

  // Waits for the notifications of every zero-copy send still outstanding.
  bool wait_notifs() {
    while (notifs_pending_ > 0) {
      io_uring_cqe* cqe;
      if (!wait(&cqe)) return false;
      const int res = cqe->res;
      const unsigned flags = cqe->flags;
      io_uring_cqe_seen(&ring_, cqe);
      if (!(flags & IORING_CQE_F_NOTIF)) return fail("an unexpected completion");
      on_notif(res);
    }
    return true;
  }

  uint64_t polls() const noexcept { return polls_; }
  uint64_t notifs() const noexcept { return notifs_; }
  uint64_t notifs_copied() const noexcept { return notifs_copied_; }

 private:
  void on_notif(int res) {
    --notifs_pending_;
    ++notifs_;
    // The kernel sets this bit when it copied the data after all, which on
    // loopback it must: the pages cannot stay referenced by an skb queued on
    // a local receiving socket (skb_orphan_frags_rx).
    if (static_cast<unsigned>(res) & IORING_NOTIF_USAGE_ZC_COPIED) ++notifs_copied_;
  }

  benchmark::State& state_;
  Peer peer_;
  io_uring ring_{};
  bool ring_ok_ = false;
  bool failed_ = false;
  double cpu_start_us_ = 0;
  uint64_t sent_ = 0;
  uint64_t polls_ = 0;
  uint64_t notifs_pending_ = 0;
  uint64_t notifs_ = 0;
  uint64_t notifs_copied_ = 0;
};

// 1. The engine's current path: sendfile(2) from the loop thread on the
// nonblocking socket for as long as it takes data, and a POLLOUT poll on the
// ring when it says EAGAIN. The kernel references page-cache pages in the
// skbs instead of copying them, and all the work happens on this thread.
void BM_sendfile_poll(benchmark::State& state) {
  const size_t len = static_cast<size_t>(state.range(0));
  Bench b(state);
  if (!b.open()) return;
  b.start();
  for (auto _ : state) {
    off_t off = 0;
    size_t left = len;
    while (left > 0) {
      ssize_t n = ::sendfile(b.sock(), g_file, &off, left);
      if (n > 0) {
        left -= static_cast<size_t>(n);
      } else if (n < 0 && errno == EAGAIN) {
        if (!b.wait_writable()) break;
      } else if (!(n < 0 && errno == EINTR)) {
        b.fail(n == 0 ? "sendfile: unexpected end of file" : sys_error("sendfile", errno));
        break;
      }
    }
    if (left > 0) break;
    b.count_sent(len);
  }
  b.finish();
  state.counters["polls"] = benchmark::Counter(b.polls(), benchmark::Counter::kAvgIterations);
}

// 2. io_uring splice: file -> pipe linked to pipe -> socket, one pipe-full at
// a time. IORING_OP_SPLICE cannot be polled, so the kernel hands every splice
// to an io-wq worker thread; the kernel starts the linked second splice only
// once the first has completed, so each pipe-full costs two worker turns.
// A splice that moves fewer bytes than asked fails its link, and the partner
// completes with -ECANCELED: the loop then drains what the pipe holds. On a
// nonblocking socket the worker does not sleep when the socket buffer is
// full; the splice completes with -EAGAIN, and a POLLOUT poll says when to
// go on, as a server would have to do.
void BM_splice(benchmark::State& state) {
  const size_t len = static_cast<size_t>(state.range(0));
  Bench b(state);
  if (!b.open()) return;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return (void)b.fail(sys_error("pipe2", errno));
  Fd pipe_r(p[0]), pipe_w(p[1]);
  // A 1 MiB pipe moves a whole range per pair. The kernel refuses sizes
  // above fs.pipe-max-size and, past fs.pipe-user-pages-soft, keeps the
  // default: then the loop takes more, smaller turns.
  ::fcntl(pipe_w.get(), F_SETPIPE_SZ, 1 << 20);
  const int pipe_size = ::fcntl(pipe_w.get(), F_GETPIPE_SZ);
  if (pipe_size <= 0) return (void)b.fail(sys_error("F_GETPIPE_SZ", errno));
  uint64_t eagains = 0;
  b.start();
  for (auto _ : state) {
    int64_t off = 0;
    size_t left = len;
    size_t in_pipe = 0;
    bool ok = true;
    while (ok && (left > 0 || in_pipe > 0)) {
      int expect = 1;
      if (in_pipe == 0) {
        const unsigned c = static_cast<unsigned>(std::min(left, static_cast<size_t>(pipe_size)));
        io_uring_sqe* fill = b.sqe(kFill);
        io_uring_prep_splice(fill, g_file, off, pipe_w.get(), -1, c, 0);
        fill->flags |= IOSQE_IO_LINK;
        io_uring_prep_splice(b.sqe(kDrain), pipe_r.get(), -1, b.sock(), -1, c, 0);
        expect = 2;
      } else {
        io_uring_prep_splice(b.sqe(kDrain), pipe_r.get(), -1, b.sock(), -1, static_cast<unsigned>(in_pipe), 0);
      }
      bool full = false;
      for (; ok && expect > 0; --expect) {
        io_uring_cqe* cqe;
        if (!(ok = b.wait(&cqe))) break;
        const int res = cqe->res;
        const uint64_t op = io_uring_cqe_get_data64(cqe);
        io_uring_cqe_seen(b.ring(), cqe);
        if (op == kFill) {
          if (res > 0) {
            off += res;
            left -= static_cast<size_t>(res);
            in_pipe += static_cast<size_t>(res);
          } else {
            ok = b.fail(res == 0 ? "splice file->pipe: unexpected end of file" : sys_error("splice file->pipe", -res));
          }
        } else if (res > 0) {
          in_pipe -= static_cast<size_t>(res);
        } else if (res == -EAGAIN) {
          full = true;
        } else if (res != -ECANCELED) {
          ok = b.fail(res == 0 ? "splice pipe->socket made no progress" : sys_error("splice pipe->socket", -res));
        }
      }
      if (ok && full) {
        ++eagains;
        ok = b.wait_writable();
      }
    }
    if (!ok) break;
    b.count_sent(len);
  }
  b.finish();
  state.counters["eagain"] = benchmark::Counter(eagains, benchmark::Counter::kAvgIterations);
  state.counters["pipe_KiB"] = pipe_size / 1024;
}

// 3. io_uring read of the file into a registered buffer, linked to an
// io_uring send of that buffer, one chunk at a time. A read of cached pages
// completes inline at submission; the send, when the socket is full, waits on
// the ring's internal poll and keeps sending until the whole chunk is queued,
// so the kernel copies every byte twice (page cache to buffer, buffer to skb)
// but never needs a worker thread.
void BM_read_send(benchmark::State& state) {
  const size_t len = static_cast<size_t>(state.range(0));
  const size_t chunk = static_cast<size_t>(state.range(1));
  Bench b(state);
  if (!b.open()) return;
  PageBuffer buf = page_buffer(chunk);
  if (!buf) return (void)b.fail("out of memory");
  iovec iov{buf.get(), chunk};
  if (int rc = io_uring_register_buffers(b.ring(), &iov, 1); rc < 0) {
    return (void)b.fail(sys_error("io_uring_register_buffers", -rc));
  }
  b.start();
  for (auto _ : state) {
    size_t off = 0;
    bool ok = true;
    while (ok && off < len) {
      const unsigned c = static_cast<unsigned>(std::min(len - off, chunk));
      io_uring_sqe* rd = b.sqe(kRead);
      io_uring_prep_read_fixed(rd, g_file, buf.get(), c, off, 0);
      rd->flags |= IOSQE_IO_LINK;
      io_uring_prep_send(b.sqe(kSend), b.sock(), buf.get(), c, MSG_NOSIGNAL);
      size_t sent = 0;
      for (int i = 0; ok && i < 2; ++i) {
        io_uring_cqe* cqe;
        if (!(ok = b.wait(&cqe))) break;
        const int res = cqe->res;
        const uint64_t op = io_uring_cqe_get_data64(cqe);
        io_uring_cqe_seen(b.ring(), cqe);
        if (op == kRead && res != static_cast<int>(c)) {
          ok = b.fail(res < 0 ? sys_error("read", -res) : "read: short read of a cached file");
        } else if (op == kSend && res < 0) {
          ok = b.fail(sys_error("send", -res));
        } else if (op == kSend) {
          sent = static_cast<size_t>(res);
        }
      }
      // A send on a stream socket retries inside the kernel until all is
      // queued, so a short count should not happen; finish it if it does.
      if (ok && sent < c) ok = b.send_all(buf.get() + sent, c - sent, Send::kCopy);
      off += c;
    }
    if (!ok) break;
    b.count_sent(len);
  }
  b.finish();
}

// 4. An in-memory segment (a cached body, a header block) sent with
// io_uring send, which copies it into the skb, against send_zc, which pins
// the pages, references them from the skb and posts a second, notification
// CQE once the kernel lets go of them; send_zc_fixed uses a registered buffer
// and so skips pinning the pages on every send. The segment never changes, so
// the next send need not wait for the previous notification, as for a cached
// body; the run waits for all of them at its end.
void BM_segment(benchmark::State& state, Send how) {
  const size_t len = static_cast<size_t>(state.range(0));
  Bench b(state);
  if (!b.open()) return;
  PageBuffer buf = page_buffer(kSegmentMax);
  if (!buf) return (void)b.fail("out of memory");
  if (how == Send::kZeroCopyFixed) {
    iovec iov{buf.get(), kSegmentMax};
    if (int rc = io_uring_register_buffers(b.ring(), &iov, 1); rc < 0) {
      return (void)b.fail(sys_error("io_uring_register_buffers", -rc));
    }
  }
  b.start();
  for (auto _ : state) {
    if (!b.send_all(buf.get(), len, how)) break;
    b.count_sent(len);
  }
  if (!b.failed() && b.wait_notifs()) b.finish();
  if (how != Send::kCopy && b.notifs() > 0) {
    state.counters["zc_copied"] = static_cast<double>(b.notifs_copied()) / b.notifs();
  }
}

constexpr int64_t kRanges[] = {16 << 10, 256 << 10, 1 << 20};

void file_ranges(benchmark::internal::Benchmark* b) {
  for (int64_t r : kRanges) b->Arg(r);
  b->ArgName("len")->UseRealTime();
}

BENCHMARK(BM_sendfile_poll)->Apply(file_ranges);
BENCHMARK(BM_splice)->Apply(file_ranges);
BENCHMARK(BM_read_send)
    ->ArgsProduct({{std::begin(kRanges), std::end(kRanges)}, {64 << 10, 256 << 10}})
    ->ArgNames({"len", "chunk"})
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_segment, send, Send::kCopy)
    ->RangeMultiplier(4)
    ->Range(4 << 10, kSegmentMax)
    ->ArgName("len")
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_segment, send_zc, Send::kZeroCopy)
    ->RangeMultiplier(4)
    ->Range(4 << 10, kSegmentMax)
    ->ArgName("len")
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_segment, send_zc_fixed, Send::kZeroCopyFixed)
    ->RangeMultiplier(4)
    ->Range(4 << 10, kSegmentMax)
    ->ArgName("len")
    ->UseRealTime();

// Creates the test file in /tmp and leaves it in the page cache. The name is
// unlinked at once: the data lives as long as the descriptor, and nothing is
// left behind in /tmp however the process ends.
std::string make_test_file() {
  char path[] = "/tmp/ringwire-file-send-XXXXXX";
  Fd fd(::mkostemp(path, O_CLOEXEC));
  if (!fd) return sys_error("mkostemp in /tmp", errno);
  ::unlink(path);
  PageBuffer data = page_buffer(kFileSize);
  if (!data) return "out of memory";
  for (size_t done = 0; done < kFileSize;) {
    ssize_t n = ::pwrite(fd.get(), data.get() + done, kFileSize - done, static_cast<off_t>(done));
    if (n <= 0) return sys_error("write the test file", n < 0 ? errno : EIO);
    done += static_cast<size_t>(n);
  }
  // Clean pages, as a served file has: writeback starting in the middle of
  // a run would add noise that no real static file pays for.
  if (::fdatasync(fd.get()) < 0) return sys_error("fdatasync the test file", errno);
  // Read it once, so that every page is known to be cached.
  for (size_t done = 0; done < kFileSize;) {
    ssize_t n = ::pread(fd.get(), data.get(), kFileSize - done, static_cast<off_t>(done));
    if (n <= 0) return sys_error("read the test file", n < 0 ? errno : EIO);
    done += static_cast<size_t>(n);
  }
  g_file = fd.release();
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  // sendfile and splice to a socket whose reader died raise SIGPIPE; with it
  // ignored they fail with EPIPE, which the benchmark reports.
  ::signal(SIGPIPE, SIG_IGN);
  if (std::string e = make_test_file(); !e.empty()) {
    std::fprintf(stderr, "file_send_bench: %s\n", e.c_str());
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  ::close(g_file);
  return 0;
}
