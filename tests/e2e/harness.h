// Shared by the integration tests: a real `ringwire serve` process on an
// ephemeral loopback port, and small blocking-socket clients to talk to it.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ringwire::test {

using namespace std::chrono_literals;

// An empty directory in /tmp for this test, named after it (a
// parameterized test's '/' becomes '-', so removing it removes it all).
inline std::filesystem::path fresh_test_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "-" + info->name();
  for (char& ch : name)
    if (ch == '/') ch = '-';
  auto dir = std::filesystem::temp_directory_path() / ("ringwire-test-" + std::to_string(getpid()) + "-" + name);
  std::filesystem::remove_all(dir);
  return dir;
}

// The balancer suites run over each event engine, and the io_uring engine
// with each --uring-relay mode besides its default (poll): "uring_splice"
// is `--engine uring --uring-relay splice`.
inline constexpr const char* kLbEngines[] = {"reactor", "uring", "uring_splice", "uring_recv"};

// The engine of a balancer suite's parameter ("uring_splice" -> "uring"):
// what its `ringwire serve` backends run on.
inline std::string engine_of(const std::string& param) {
  return param.substr(0, param.find('_'));
}

// The `ringwire lb` arguments that select a balancer suite's parameter.
inline std::vector<std::string> lb_engine_args(const std::string& param) {
  if (param.empty()) return {};
  std::vector<std::string> args = {"--engine", engine_of(param)};
  size_t mode = param.find('_');
  if (mode != std::string::npos) args.insert(args.end(), {"--uring-relay", param.substr(mode + 1)});
  return args;
}

// A server process started for one test and stopped by pid when it ends.
// Its stderr (the log) is kept, so tests can check what it said.
class Server {
 public:
  // `in_child` runs in the forked child just before exec (to restrict it).
  Server(const std::string& engine, const std::string& root, std::vector<std::string> extra = {},
         const std::function<void()>& in_child = {})
      : Server(serve_args(engine, root, std::move(extra)), in_child) {}

  // `ringwire lb --listen 127.0.0.1:0 [--engine E [--uring-relay MODE]] --workers 2 ARGS...`,
  // `engine` a balancer suite's parameter (see kLbEngines).
  static Server lb(const std::string& engine, std::vector<std::string> args) {
    std::vector<std::string> full = {RINGWIRE_BINARY, "lb", "--listen", "127.0.0.1:0"};
    std::vector<std::string> engine_args = lb_engine_args(engine);
    full.insert(full.end(), engine_args.begin(), engine_args.end());
    if (std::find(args.begin(), args.end(), "--workers") == args.end()) full.insert(full.end(), {"--workers", "2"});
    full.insert(full.end(), args.begin(), args.end());
    return Server(std::move(full), {});
  }

  Server(Server&& o) noexcept
      : pid_(std::exchange(o.pid_, -1)),
        err_(std::exchange(o.err_, -1)),
        port_(o.port_),
        status_(o.status_),
        log_(std::move(o.log_)) {}

  // Runs `args` (argv, the binary first) and waits for its "listening on" line.
  Server(std::vector<std::string> args, const std::function<void()>& in_child) {
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(pipefd[1], STDERR_FILENO);
      if (in_child) in_child();
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(pipefd[1]);
    err_ = pipefd[0];
    // Read stderr until the "listening on 127.0.0.1:PORT" line (bounded).
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!drain(200)) break;
      size_t at = log_.find("listening on 127.0.0.1:");
      if (at != std::string::npos && log_.find(' ', at + 24) != std::string::npos) {
        port_ = std::atoi(log_.c_str() + at + 23);
        break;
      }
    }
    if (port_ == 0) {
      stop();
      throw std::runtime_error("server did not start: " + log_);
    }
  }
  ~Server() { stop(); }

  static std::vector<std::string> serve_args(const std::string& engine, const std::string& root,
                                             std::vector<std::string> extra) {
    std::vector<std::string> args = {RINGWIRE_BINARY, "serve", "--listen", "127.0.0.1:0", "--root", root};
    // `--workers 2` and `--log-level info` are defaults that `extra` may replace
    // (the CLI refuses an option given twice).
    const std::pair<const char*, const char*> defaults[] = {{"--workers", "2"}, {"--log-level", "info"}};
    for (auto [option, value] : defaults) {
      if (std::find(extra.begin(), extra.end(), option) == extra.end()) args.insert(args.end(), {option, value});
    }
    if (!engine.empty()) args.insert(args.begin() + 2, {"--engine", engine});
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }

  // Everything the server has written to stderr so far.
  const std::string& log() {
    while (err_ >= 0 && drain(0)) {
    }
    return log_;
  }

  // SIGTERM, then wait (bounded); SIGKILL if it does not exit. Returns the exit status.
  int stop() {
    if (pid_ <= 0) return status_;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, &status_, WNOHANG) == pid_) {
        pid_ = -1;
        log();
        close(err_);
        err_ = -1;
        return status_;
      }
      drain(0);
      std::this_thread::sleep_for(50ms);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
    pid_ = -1;
    log();
    close(err_);
    err_ = -1;
    return status_;
  }

 private:
  // Reads what stderr has within `wait_ms`; false at EOF or when nothing came.
  bool drain(int wait_ms) {
    pollfd p{err_, POLLIN, 0};
    if (poll(&p, 1, wait_ms) <= 0) return wait_ms > 0;  // a timed wait may try again
    char buf[4096];
    ssize_t n = read(err_, buf, sizeof buf);
    if (n <= 0) return false;
    log_.append(buf, n);
    return true;
  }

  pid_t pid_ = -1;
  int err_ = -1;
  int port_ = 0;
  int status_ = -1;
  std::string log_;
};

// A blocking client socket connected to 127.0.0.1:port, reads timing out
// after 10 s, or -1. A `rcvbuf` set before the handshake fixes a small
// receive window, so a large response stays in flight until the client reads.
inline int connect_to(int port, int rcvbuf = 0) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

inline void send_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    off += n;
  }
}

// Reads until EOF (or the receive timeout).
inline std::string read_all(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, n);
  }
  return out;
}

struct Response {
  int status = 0;
  std::string headers;
  std::string body;
};

// Reads exactly one response (Content-Length framed) from `fd`, using `pending` as carry-over.
inline bool read_response(int fd, std::string& pending, Response& r, bool head = false) {
  char buf[65536];
  for (;;) {
    size_t end = pending.find("\r\n\r\n");
    if (end != std::string::npos) {
      r.headers = pending.substr(0, end + 4);
      r.status = std::atoi(r.headers.c_str() + 9);
      size_t len = 0;
      size_t cl = r.headers.find("Content-Length: ");
      if (cl != std::string::npos && !head && r.status != 304) len = std::stoul(r.headers.substr(cl + 16));
      while (pending.size() < end + 4 + len) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return false;
        pending.append(buf, n);
      }
      r.body = pending.substr(end + 4, len);
      pending.erase(0, end + 4 + len);
      return true;
    }
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    pending.append(buf, n);
  }
}

inline Response request(int port, const std::string& raw, bool head = false) {
  int fd = connect_to(port);
  EXPECT_GE(fd, 0);
  send_all(fd, raw);
  std::string pending;
  Response r;
  read_response(fd, pending, r, head);
  close(fd);
  return r;
}

// Runs a shell command (bounded by `timeout`), returning its output.
inline std::string run_command(const std::string& cmd) {
  std::string out;
  FILE* f = popen(("timeout 60 " + cmd + " 2>&1").c_str(), "r");
  if (!f) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  pclose(f);
  return out;
}

// --- Engines, a docroot fixture and socket helpers shared by the engine-generic suites ---

// Every engine `ringwire serve` has; the suites that hold for all of them
// are instantiated over this list.
inline constexpr const char* kServeEngines[] = {"reactor", "uring", "threads", "prefork"};
// Names parameterized tests after the engine ("/uring") rather than an index.
struct EngineName {
  std::string operator()(const ::testing::TestParamInfo<const char*>& info) const { return info.param; }
};
inline bool is_blocking_engine(const std::string& engine) {
  return engine == "threads" || engine == "prefork";
}

inline constexpr char kPage[] = "<html><body>small</body></html>\n";
inline constexpr char kGetPage[] = "GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n";

// A docroot in a temporary directory per test: a small page and a 300 KiB file.
class DocrootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fresh_test_dir();
    std::filesystem::create_directories(root_ / "www");
    write(root_ / "www" / "page.html", kPage);
    big_.resize(300 * 1024);
    for (size_t i = 0; i < big_.size(); ++i) big_[i] = static_cast<char>('a' + i % 26);
    write(root_ / "www" / "big.bin", big_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  static void write(const std::filesystem::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }
  std::string www() const { return (root_ / "www").string(); }

  std::filesystem::path root_;
  std::string big_;
};

// A GET for the page carrying `pad_bytes` of extra header fields (of at most
// 1000 bytes each, so the field count stays far under the parser's limit).
inline std::string padded_request(size_t pad_bytes) {
  std::string req = "GET /page.html HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; pad_bytes > 0; ++i) {
    size_t n = std::min<size_t>(pad_bytes, 1000);
    req += "X-Pad-" + std::to_string(i) + ": " + std::string(n, 'p') + "\r\n";
    pad_bytes -= n;
  }
  return req + "\r\n";
}

inline int connect_nodelay(int port) {
  int fd = connect_to(port);
  int one = 1;
  if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Sends `s` in `chunk`-byte writes, pausing 1 ms every `pause_every` writes so
// the pieces reach the server as separate segments rather than one.
inline void send_in_chunks(int fd, const std::string& s, size_t chunk, int pause_every) {
  int writes = 0;
  for (size_t off = 0; off < s.size(); off += chunk) {
    size_t n = std::min(chunk, s.size() - off);
    ASSERT_EQ(send(fd, s.data() + off, n, MSG_NOSIGNAL), static_cast<ssize_t>(n));
    if (++writes % pause_every == 0) std::this_thread::sleep_for(1ms);
  }
}

// What the peer did within `ms`: 0 for an orderly close (EOF), 1 for data,
// -1 for nothing (still open), -2 for a reset or another error.
inline int peer_event(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, ms) <= 0) return -1;
  char c;
  ssize_t n = recv(fd, &c, 1, MSG_PEEK);
  if (n == 0) return 0;
  return n > 0 ? 1 : -2;
}

// Reads whatever comes until the peer closes; false if it is still open after `ms`.
inline bool read_until_closed(int fd, int ms, std::string& out) {
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
inline bool exited_within(pid_t pid, std::chrono::milliseconds limit) {
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

inline size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// A listening socket on 127.0.0.1 (`port` 0: an ephemeral one, written
// back); a small `backlog` makes a blackhole.
inline int listen_loopback(int& port, int backlog = 128, bool nonblocking = false) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, backlog) != 0) {
    close(fd);
    return -1;
  }
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

// "127.0.0.1:PORT", as --backend takes it.
inline std::string backend_arg(int port) {
  return "127.0.0.1:" + std::to_string(port);
}

// Polls `done` every 10 ms until it holds or `limit` passes; its last answer.
inline bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

}  // namespace ringwire::test
