// Shared by the balancer's load suites (lb_load_test.cc, lb_backend_test.cc):
// an in-process epoll echo backend that takes thousands of connections, a
// client that reads which backend it reached, and a fixture that starts
// `ringwire serve` backends with their own docroots.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "harness.h"

namespace ringwire::test {

// Thousands of sockets in this process (clients and the echo backend's
// ends): the soft descriptor limit goes up to the hard one. The balancer
// does the same for itself at startup.
inline void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

inline sockaddr_in loopback(int port, uint32_t host = INADDR_LOOPBACK) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(host);
  return a;
}

// An echo backend in this process driven by epoll, so thousands of
// connections cost no thread each: `threads` threads each have an epoll set
// holding the one listener (EPOLLEXCLUSIVE wakes one of them per
// connection) and the connections they accepted. A connection first gets
// `greeting` (a backend's name, when set), then back what it sends; at EOF,
// once everything is sent, it is closed. stop() closes the listener and
// every connection, as a backend that goes away.
class EpollEcho {
 public:
  explicit EpollEcho(std::string greeting = {}, int threads = 1) : greeting_(std::move(greeting)) {
    listener_ = listen_loopback(port_, 4096, true);
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
  }
  ~EpollEcho() { stop(); }
  EpollEcho(const EpollEcho&) = delete;
  EpollEcho& operator=(const EpollEcho&) = delete;

  int port() const { return port_; }
  int open() const { return open_.load(); }

  void stop() {
    if (threads_.empty()) return;
    uint64_t one = 1;
    ssize_t rc = write(wake_, &one, sizeof one);
    (void)rc;
    for (auto& t : threads_) t.join();
    threads_.clear();
    close(listener_);
    close(wake_);
  }

 private:
  struct Conn {
    int fd = -1;
    std::string out;
    size_t out_off = 0;
  };

  void run() {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.ptr = &listener_;
    epoll_ctl(ep, EPOLL_CTL_ADD, listener_, &ev);
    ev.events = EPOLLIN;  // level-triggered: every thread sees the stop
    ev.data.ptr = &wake_;
    epoll_ctl(ep, EPOLL_CTL_ADD, wake_, &ev);
    std::unordered_map<Conn*, std::unique_ptr<Conn>> conns;
    std::vector<char> buf(1 << 16);
    epoll_event events[256];
    for (;;) {
      int n = epoll_wait(ep, events, 256, 1000);
      bool stopping = false;
      for (int i = 0; i < n; ++i) {
        void* tag = events[i].data.ptr;
        if (tag == &wake_) {
          stopping = true;
        } else if (tag == &listener_) {
          for (;;) {
            int c = accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (c < 0) break;
            ++open_;
            auto conn = std::make_unique<Conn>();
            conn->fd = c;
            conn->out = greeting_;
            epoll_event cev{};
            cev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
            cev.data.ptr = conn.get();
            epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
            Conn* raw = conn.get();
            conns.emplace(raw, std::move(conn));
            if (!serve(*raw, buf)) finish(conns, raw);
          }
        } else {
          Conn* c = static_cast<Conn*>(tag);
          if (conns.count(c) && !serve(*c, buf)) finish(conns, c);
        }
      }
      if (stopping) break;
    }
    for (auto& [raw, conn] : conns) {
      close(conn->fd);
      --open_;
    }
    close(ep);
  }

  // Moves what it can; false when the connection is over.
  static bool serve(Conn& c, std::vector<char>& buf) {
    for (;;) {
      while (c.out_off < c.out.size()) {
        ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN) return true;  // the next EPOLLOUT edge resumes
        if (n <= 0) return false;
        c.out_off += static_cast<size_t>(n);
      }
      c.out.clear();
      c.out_off = 0;
      ssize_t n = recv(c.fd, buf.data(), buf.size(), 0);
      if (n < 0 && errno == EAGAIN) return true;
      if (n <= 0) return false;  // EOF with everything sent back, or an error
      c.out.assign(buf.data(), static_cast<size_t>(n));
    }
  }

  void finish(std::unordered_map<Conn*, std::unique_ptr<Conn>>& conns, Conn* c) {
    close(c->fd);
    conns.erase(c);
    --open_;
  }

  std::string greeting_;
  int listener_ = -1;
  int wake_ = -1;
  int port_ = 0;
  std::atomic<int> open_{0};
  std::vector<std::thread> threads_;
};

// A connection to the balancer from 127.0.0.1 (or from `source`, bound
// first) that reads the one-byte greeting of the backend it reached; the
// socket stays open in `fd` when asked for, else it is closed.
inline char greeting_via(int lb_port, int* fd_out = nullptr, uint32_t source = 0) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (source != 0) {
    sockaddr_in s = loopback(0, source);
    if (bind(fd, reinterpret_cast<sockaddr*>(&s), sizeof s) != 0) {
      close(fd);
      return '!';
    }
  }
  sockaddr_in a = loopback(lb_port);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char who = '?';
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || recv(fd, &who, 1, 0) != 1) who = '?';
  if (fd_out)
    *fd_out = fd;
  else
    close(fd);
  return who;
}

class LbFixture : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    raise_fd_limit();
    root_ = fresh_test_dir();
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  // A docroot serving who.txt = "backend N" and a small page.
  std::string docroot(int i) {
    std::filesystem::path dir = root_ / ("www" + std::to_string(i));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "who.txt") << "backend " << i;
    std::ofstream(dir / "page.html") << kPage;
    return dir.string();
  }
  // `n` `ringwire serve` backends, one worker each.
  void start_web_backends(int n) {
    for (int i = 0; i < n; ++i)
      web_.push_back(
          std::make_unique<Server>(engine_of(GetParam()), docroot(i), std::vector<std::string>{"--workers", "1"}));
  }
  std::vector<std::string> web_backend_args() const {
    std::vector<std::string> args;
    for (const auto& w : web_) args.insert(args.end(), {"--backend", backend_arg(w->port())});
    return args;
  }
  static std::string who(int lb_port) {
    return request(lb_port, "GET /who.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").body;
  }

  std::filesystem::path root_;
  std::vector<std::unique_ptr<Server>> web_;
};

}  // namespace ringwire::test
