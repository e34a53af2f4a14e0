#include "proactor/uring_engine.h"

#include "core/clock.h"
#include "core/http_worker.h"
#include "core/log.h"
#include "proactor/http_handler.h"
#include "proactor/loop.h"

namespace ringwire::proactor {

// One worker thread's parts, in the order they must be built (and the
// reverse of the order they are torn down: the loop's last handlers still
// use the HttpWorker).
struct UringEngine::Worker {
  Worker(const core::ServeResources& r, std::unique_ptr<core::Clock> c, std::unique_ptr<Loop> l)
      : clock(std::move(c)), http(r.config, *clock, r.root_fd, r.access_log_fd), loop(std::move(l)), acceptor(*loop, http) {
    loop->set_acceptor(&acceptor);
  }

  std::unique_ptr<core::Clock> clock;
  core::HttpWorker http;
  std::unique_ptr<Loop> loop;
  HttpAcceptor acceptor;
};

UringEngine::UringEngine(uint64_t max_conns) : budget_(max_conns) {}

core::Result<std::unique_ptr<UringEngine>> UringEngine::create(const core::ServeResources& r,
                                                               std::vector<core::Fd>& listeners) {
  std::unique_ptr<UringEngine> engine(new UringEngine(r.config.max_conns));
  Loop::Options options{r.config.ring_buffers, r.config.ring_cq_entries};
  for (size_t i = 0; i < listeners.size(); ++i) {
    auto clock = std::make_unique<core::Clock>();
    auto loop = Loop::create(options, engine->budget_, core::HttpWorker::timeouts(r.config), *clock);
    if (!loop) return std::unexpected(loop.error());
    engine->workers_.push_back(std::make_unique<Worker>(r, std::move(clock), std::move(*loop)));
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
    threads_.emplace_back([loop = workers_[i]->loop.get(), l = std::move(listeners_[i])]() mutable { loop->run(std::move(l)); });
}

void UringEngine::request_stop() noexcept {
  for (auto& w : workers_) w->loop->request_stop();
}

void UringEngine::wait() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

}  // namespace ringwire::proactor
