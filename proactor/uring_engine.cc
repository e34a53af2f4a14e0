#include "proactor/uring_engine.h"

#include "core/clock.h"
#include "core/log.h"
#include "proactor/loop.h"

namespace ringwire::proactor {

struct UringEngine::Worker {
  // The loop goes first: handlers it may still hold use what the acceptor owns.
  ~Worker() {
    loop.reset();
    acceptor.reset();
  }

  std::unique_ptr<core::Clock> clock = std::make_unique<core::Clock>();
  std::unique_ptr<Loop> loop;
  std::unique_ptr<Acceptor> acceptor;
};

UringEngine::UringEngine(uint64_t max_conns) : budget_(max_conns) {}

core::Result<std::unique_ptr<UringEngine>> UringEngine::create(const core::Service& service,
                                                               const core::RingOptions& ring,
                                                               std::vector<core::Fd>& listeners) {
  std::unique_ptr<UringEngine> engine(new UringEngine(service.max_conns()));
  Loop::Options options{ring.buffers, ring.cq_entries, ring.busy_poll_us};
  for (size_t i = 0; i < listeners.size(); ++i) {
    auto w = std::make_unique<Worker>();
    auto loop = Loop::create(options, engine->budget_, service.timeouts(), *w->clock);
    if (!loop) return std::unexpected(loop.error());
    w->loop = std::move(*loop);
    w->acceptor = service.make_acceptor(*w->loop, *w->clock);
    w->loop->set_acceptor(w->acceptor.get());
    engine->workers_.push_back(std::move(w));
  }
  RW_LOG_DEBUG("io_uring rings: {}", engine->workers_.front()->loop->ring_mode());
  engine->listeners_ = std::move(listeners);
  return engine;
}

UringEngine::~UringEngine() {
  request_stop();
  wait();
}

void UringEngine::start() {
  for (size_t i = 0; i < workers_.size(); ++i)
    threads_.emplace_back(
        [loop = workers_[i]->loop.get(), l = std::move(listeners_[i])]() mutable { loop->run(std::move(l)); });
}

void UringEngine::request_stop() noexcept {
  for (auto& w : workers_) w->loop->request_stop();
}

void UringEngine::wait() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

}  // namespace ringwire::proactor
