#include "lb/health_checker.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <system_error>
#include <vector>

#include "lb/balancer.h"

namespace ringwire::lb {
namespace {

using Clock = std::chrono::steady_clock;

int64_t ms_until(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return std::max<int64_t>(left.count(), 0);
}

struct Probe {
  std::shared_ptr<Backend> backend;
  core::Fd fd;
  bool pending = false;  // connect in progress, waiting for POLLOUT
  int error = 0;         // the outcome once !pending: 0 or an errno
};

// Starts a nonblocking connect. Loopback connects may complete (or be
// refused) at once; anything else goes on in the kernel until POLLOUT.
void start_probe(Probe& p) {
  const core::Endpoint& ep = p.backend->spec().addr;
  p.fd.reset(::socket(ep.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!p.fd) {
    p.error = errno;
    return;
  }
  if (::connect(p.fd.get(), reinterpret_cast<const sockaddr*>(&ep.addr), ep.len) == 0) return;
  if (errno == EINPROGRESS)
    p.pending = true;
  else
    p.error = errno;
}

// POLLOUT (or POLLERR/POLLHUP) says the connect finished; SO_ERROR says how.
void finish_probe(Probe& p) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(p.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  p.error = err;
  p.pending = false;
}

// A probe's connection carries no data, so it is reset rather than closed:
// an orderly close would leave the checker's side in TIME_WAIT for a minute
// per probe, which at short intervals piles up thousands of sockets. HAProxy
// ends its TCP checks the same way.
void reset_connection(core::Fd& fd) {
  linger lg{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  fd.reset();
}

}  // namespace

std::string describe_connect_error(int err) {
  if (err == ETIMEDOUT) return "timed out";
  std::string s = std::strerror(err);
  // strerror capitalizes ("Connection refused"); the reason sits mid-sentence.
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}

HealthChecker::HealthChecker(Balancer& balancer, int64_t interval_ms, int64_t timeout_ms)
    : balancer_(balancer),
      interval_ms_(std::max<int64_t>(interval_ms, 1)),
      timeout_ms_(std::max<int64_t>(timeout_ms, 1)),
      wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!wake_) throw std::system_error(errno, std::generic_category(), "eventfd");
}

HealthChecker::~HealthChecker() {
  stop();
  if (thread_.joinable()) thread_.join();
}

void HealthChecker::start() {
  if (thread_.joinable()) {
    if (!stopping_.load()) return;
    thread_.join();
  }
  // Drain a wake-up left by an earlier stop() so the new thread does not see it.
  uint64_t count;
  while (::read(wake_.get(), &count, sizeof count) > 0) {
  }
  stopping_.store(false);
  thread_ = std::thread([this] { run(); });
}

void HealthChecker::stop() noexcept {
  stopping_.store(true);
  uint64_t one = 1;
  ssize_t rc = ::write(wake_.get(), &one, sizeof one);
  (void)rc;
}

void HealthChecker::run() {
  while (!stopping_.load()) {
    auto round_start = Clock::now();
    if (!probe_all()) return;
    if (!wait_ms(ms_until(round_start + std::chrono::milliseconds(interval_ms_)))) return;
  }
}

bool HealthChecker::wait_ms(int64_t ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    if (stopping_.load()) return false;
    int64_t left = ms_until(deadline);
    if (left == 0) return true;
    pollfd p{wake_.get(), POLLIN, 0};
    // EINTR only shortens a sleep; the loop recomputes what is left.
    ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1 << 30)));
  }
}

bool HealthChecker::probe_all() {
  auto backends = balancer_.backends();
  std::vector<Probe> probes(backends.size());
  for (size_t i = 0; i < backends.size(); ++i) {
    probes[i].backend = std::move(backends[i]);
    start_probe(probes[i]);
  }

  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
  std::vector<pollfd> fds;
  std::vector<Probe*> waiting;
  for (;;) {
    fds.clear();
    waiting.clear();
    fds.push_back({wake_.get(), POLLIN, 0});
    for (auto& p : probes) {
      if (!p.pending) continue;
      fds.push_back({p.fd.get(), POLLOUT, 0});
      waiting.push_back(&p);
    }
    if (waiting.empty()) break;
    int64_t left = ms_until(deadline);
    if (left == 0) break;
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::min<int64_t>(left, 1 << 30)));
    if (n < 0 && errno != EINTR) break;
    if (stopping_.load()) return false;
    for (size_t i = 0; i < waiting.size(); ++i)
      if (fds[i + 1].revents) finish_probe(*waiting[i]);
  }
  if (stopping_.load()) return false;

  for (auto& p : probes) {
    if (p.pending) {
      p.pending = false;
      p.error = ETIMEDOUT;
    }
    if (p.error == 0) {
      reset_connection(p.fd);
      balancer_.connect_succeeded(*p.backend);
    } else {
      p.fd.reset();
      balancer_.connect_failed(*p.backend, describe_connect_error(p.error));
    }
  }
  return true;
}

}  // namespace ringwire::lb
