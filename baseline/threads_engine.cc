#include "baseline/threads_engine.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "baseline/blocking_connection.h"
#include "core/log.h"

namespace ringwire::baseline {
namespace {
constexpr auto kStopGrace = std::chrono::seconds(5);
// A connection thread needs little: the request scratch lives in its
// HttpWorker on the heap. Sanitizers need far more stack.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr size_t kStack = 1024 * 1024;
#else
constexpr size_t kStack = 64 * 1024;
#endif
}  // namespace

struct ThreadsEngine::Task {
  ThreadsEngine* engine;
  int fd;
  core::Endpoint peer;
};

ThreadsEngine::ThreadsEngine(const core::ServeConfig& config, int root_fd, int access_log_fd,
                             std::vector<core::Fd> listeners)
    : config_(config),
      owner_(config, shared_.clock, root_fd, access_log_fd),
      budget_(config.max_conns),
      timeouts_(core::HttpWorker::timeouts(config)),
      listeners_(std::move(listeners)) {
  // accept(2) blocks here: the listeners were made nonblocking for the loops.
  for (auto& l : listeners_) ::fcntl(l.get(), F_SETFL, ::fcntl(l.get(), F_GETFL) & ~O_NONBLOCK);
}

ThreadsEngine::~ThreadsEngine() {
  request_stop();
  wait();
}

void ThreadsEngine::start() {
  for (auto& l : listeners_) acceptors_.emplace_back([this, fd = l.get()] { accept_loop(fd); });
}

void ThreadsEngine::accept_loop(int listener) {
  while (!stopping_) {
    // At --max-conns the acceptor waits before accepting, and the next
    // client waits in the backlog. (Waiting with a slot taken would let
    // acceptors blocked in accept hold slots no client uses.)
    while (!budget_.has_room() && !stopping_)
      std::this_thread::sleep_for(std::chrono::milliseconds(core::ConnectionBudget::kRetryMs));
    core::Endpoint peer;
    peer.len = sizeof peer.addr;
    int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&peer.addr), &peer.len, SOCK_CLOEXEC);
    if (fd >= 0) {
      // Another acceptor may have taken the last slot meanwhile: this
      // client, accepted already, waits here for the next one.
      bool taken;
      while (!(taken = budget_.try_take()) && !stopping_)
        std::this_thread::sleep_for(std::chrono::milliseconds(core::ConnectionBudget::kRetryMs));
      if (!taken) {
        ::close(fd);
        return;
      }
    }
    if (fd < 0) {
      if (stopping_) return;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        RW_LOG_WARN("accept: {}; pausing accepts for 100 ms", strerror(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      continue;
    }
    {
      std::lock_guard lock(mu_);
      ++live_;
    }
    auto* task = new Task{this, fd, peer};
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, kStack);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(&t, &attr, &ThreadsEngine::thread_main, task);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
      RW_LOG_WARN("cannot start a connection thread: {}; closing the connection", strerror(rc));
      ::close(fd);
      delete task;
      budget_.give_back();
      std::lock_guard lock(mu_);
      --live_;
      gone_.notify_all();
    }
  }
}

void* ThreadsEngine::thread_main(void* arg) {
  std::unique_ptr<Task> task(static_cast<Task*>(arg));
  task->engine->run_connection(core::Fd(task->fd), task->peer);
  return nullptr;
}

void ThreadsEngine::run_connection(core::Fd fd, const core::Endpoint& peer) {
  Conn conn{fd.get()};
  {
    std::lock_guard lock(mu_);
    conns_.insert(&conn);
  }
  {
    core::HttpWorker worker(owner_, shared_);  // this thread's pools and request scratch
    serve_blocking(worker, std::move(fd), peer, timeouts_, stopping_, &conn.idle);
  }
  budget_.give_back();
  std::lock_guard lock(mu_);
  conns_.erase(&conn);
  --live_;
  gone_.notify_all();
}

void ThreadsEngine::request_stop() noexcept {
  if (stopping_.exchange(true)) return;
  // shutdown(2) wakes a thread blocked in accept(2) or recv(2); close would not.
  for (auto& l : listeners_) ::shutdown(l.get(), SHUT_RDWR);
  std::lock_guard lock(mu_);
  for (Conn* c : conns_)
    if (c->idle) ::shutdown(c->fd, SHUT_RDWR);
}

void ThreadsEngine::wait() {
  for (auto& t : acceptors_)
    if (t.joinable()) t.join();
  std::unique_lock lock(mu_);
  if (!gone_.wait_for(lock, kStopGrace, [this] { return live_ == 0; })) {
    // The grace period is over: whatever is still open is cut, which ends
    // its thread's blocking call at once.
    for (Conn* c : conns_) ::shutdown(c->fd, SHUT_RDWR);
    gone_.wait(lock, [this] { return live_ == 0; });
  }
}

}  // namespace ringwire::baseline
