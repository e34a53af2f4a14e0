#include "reactor/reactor_engine.h"

#include "core/clock.h"
#include "reactor/loop.h"

namespace ringwire::reactor {

struct ReactorEngine::Worker {
  Worker(const core::Service& service, core::Fd listener, core::ConnectionBudget& budget, uint32_t busy_poll_us)
      : loop(std::make_unique<Loop>(std::move(listener), budget, service.timeouts(), clock, busy_poll_us)),
        acceptor(service.make_acceptor(*loop, clock)) {
    loop->set_acceptor(acceptor.get());
  }
  // The loop goes first: handlers it may still hold use what the acceptor owns.
  ~Worker() {
    loop.reset();
    acceptor.reset();
  }

  core::Clock clock;
  std::unique_ptr<Loop> loop;
  std::unique_ptr<Acceptor> acceptor;
};

ReactorEngine::ReactorEngine(const core::Service& service, std::vector<core::Fd> listeners, uint32_t busy_poll_us)
    : budget_(service.max_conns()) {
  for (auto& l : listeners) workers_.push_back(std::make_unique<Worker>(service, std::move(l), budget_, busy_poll_us));
}

ReactorEngine::~ReactorEngine() {
  request_stop();
  wait();
}

void ReactorEngine::start() {
  for (auto& w : workers_) threads_.emplace_back([loop = w->loop.get()] { loop->run(); });
}

void ReactorEngine::request_stop() noexcept {
  for (auto& w : workers_) w->loop->request_stop();
}

void ReactorEngine::wait() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

}  // namespace ringwire::reactor
