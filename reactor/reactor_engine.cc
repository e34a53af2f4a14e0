#include "reactor/reactor_engine.h"

#include "core/clock.h"
#include "core/http_worker.h"
#include "reactor/http_handler.h"
#include "reactor/loop.h"

namespace ringwire::reactor {

// One worker thread's parts, in the order they must be built (and the
// reverse of the order they are torn down: the loop's last handlers still
// use the HttpWorker).
struct ReactorEngine::Worker {
  Worker(const core::ServeResources& r, core::Fd listener, core::ConnectionBudget& budget)
      : http(r.config, clock, r.root_fd, r.access_log_fd),
        loop(std::move(listener), budget, core::HttpWorker::timeouts(r.config), clock),
        acceptor(loop, http) {
    loop.set_acceptor(&acceptor);
  }

  core::Clock clock;
  core::HttpWorker http;
  Loop loop;
  HttpAcceptor acceptor;
};

ReactorEngine::ReactorEngine(const core::ServeResources& r, std::vector<core::Fd> listeners)
    : budget_(r.config.max_conns) {
  for (auto& l : listeners) workers_.push_back(std::make_unique<Worker>(r, std::move(l), budget_));
}

ReactorEngine::~ReactorEngine() {
  request_stop();
  wait();
}

void ReactorEngine::start() {
  for (auto& w : workers_) threads_.emplace_back([&loop = w->loop] { loop.run(); });
}

void ReactorEngine::request_stop() noexcept {
  for (auto& w : workers_) w->loop.request_stop();
}

void ReactorEngine::wait() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

}  // namespace ringwire::reactor
