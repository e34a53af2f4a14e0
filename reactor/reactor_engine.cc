#include "reactor/reactor_engine.h"

namespace ringwire::reactor {

ReactorEngine::ReactorEngine(const core::ServeResources& r, std::vector<core::Fd> listeners)
    : budget_(r.config.max_conns) {
  for (auto& l : listeners)
    loops_.push_back(std::make_unique<EventLoop>(r.config, std::move(l), r.root_fd, r.access_log_fd, budget_));
}

ReactorEngine::~ReactorEngine() {
  request_stop();
  wait();
}

void ReactorEngine::start() {
  for (auto& loop : loops_) threads_.emplace_back([&loop] { loop->run(); });
}

void ReactorEngine::request_stop() noexcept {
  for (auto& loop : loops_) loop->request_stop();
}

void ReactorEngine::wait() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

}  // namespace ringwire::reactor
