#include "baseline/prefork_engine.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "baseline/blocking_connection.h"
#include "core/http_session.h"
#include "core/http_worker.h"
#include "core/log.h"

namespace ringwire::baseline {
namespace {
constexpr auto kStopGrace = std::chrono::seconds(5);

// In a worker process: set by SIGTERM (or SIGINT, which a terminal sends to
// the whole process group) and read by its only thread.
std::atomic<bool> g_worker_stopping{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

extern "C" void on_worker_stop(int) {
  g_worker_stopping.store(true);
}
}  // namespace

PreforkEngine::PreforkEngine(const core::ServeConfig& config, int root_fd, int access_log_fd,
                             std::vector<core::Fd> listeners)
    : config_(config), root_fd_(root_fd), access_log_fd_(access_log_fd), listeners_(std::move(listeners)) {
  for (auto& l : listeners_) ::fcntl(l.get(), F_SETFL, ::fcntl(l.get(), F_GETFL) & ~O_NONBLOCK);
  pids_.assign(listeners_.size(), -1);
}

PreforkEngine::~PreforkEngine() {
  request_stop();
  wait();
}

void PreforkEngine::start() {
  for (size_t i = 0; i < listeners_.size(); ++i) spawn(i);
  supervisor_ = std::thread([this] { supervise(); });
}

void PreforkEngine::spawn(size_t index) {
  pid_t pid = ::fork();
  if (pid == 0) run_worker(index);
  std::lock_guard lock(mu_);
  if (pid < 0) {
    RW_LOG_ERROR("prefork: cannot start worker {}: {}", index, strerror(errno));
    return;
  }
  pids_[index] = pid;
  ++running_;
}

void PreforkEngine::run_worker(size_t index) {
  // The parent takes its signals with sigwait and keeps them blocked; a
  // worker takes SIGTERM and SIGINT with a handler that only sets a flag,
  // without SA_RESTART, so a blocking accept or recv returns EINTR and the
  // worker notices.
  struct sigaction sa {};
  sa.sa_handler = on_worker_stop;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::signal(SIGHUP, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  if (stopping_) ::_exit(0);

  int listener = listeners_[index].get();
  for (size_t i = 0; i < listeners_.size(); ++i)
    if (i != index) ::close(listeners_[i].get());
  {
    // One connection at a time: the lock is never contended, and it keeps
    // the Date header fresh the same way as on the threads engine.
    core::SharedHttp shared;
    core::HttpWorker owner(config_, shared.clock, root_fd_, access_log_fd_);
    core::HttpWorker worker(owner, shared);
    auto timeouts = core::HttpWorker::timeouts(config_);
    while (!g_worker_stopping.load()) {
      core::Endpoint peer;
      peer.len = sizeof peer.addr;
      int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&peer.addr), &peer.len, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) ::usleep(100 * 1000);
        continue;
      }
      serve_blocking(worker, core::Fd(fd), peer, timeouts, g_worker_stopping, nullptr);
    }
  }
  // No destructors of the parent's objects, no atexit handlers: they are the parent's.
  ::_exit(0);
}

void PreforkEngine::supervise() {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;  // ECHILD: none left
    }
    std::unique_lock lock(mu_);
    size_t index = pids_.size();
    for (size_t i = 0; i < pids_.size(); ++i)
      if (pids_[i] == pid) index = i;
    if (index == pids_.size()) continue;  // not one of ours
    pids_[index] = -1;
    --running_;
    if (stopping_) {
      if (running_ == 0) break;
      continue;
    }
    if (WIFSIGNALED(status))
      RW_LOG_WARN("prefork: worker {} (pid {}) killed by signal {}; starting a new one", index, pid, WTERMSIG(status));
    else
      RW_LOG_WARN("prefork: worker {} (pid {}) exited with status {}; starting a new one", index, pid,
                  WEXITSTATUS(status));
    lock.unlock();
    spawn(index);
  }
  std::lock_guard lock(mu_);
  done_.notify_all();
}

void PreforkEngine::request_stop() noexcept {
  stopping_ = true;
  std::lock_guard lock(mu_);
  for (pid_t pid : pids_)
    if (pid > 0) ::kill(pid, SIGTERM);
}

void PreforkEngine::wait() {
  {
    std::unique_lock lock(mu_);
    if (!done_.wait_for(lock, kStopGrace, [this] { return running_ == 0; })) {
      for (pid_t pid : pids_)
        if (pid > 0) ::kill(pid, SIGKILL);
    }
  }
  if (supervisor_.joinable()) supervisor_.join();
}

}  // namespace ringwire::baseline
