#include "proactor/uring_engine.h"

#include "core/log.h"

namespace ringwire::proactor {

core::Result<std::unique_ptr<UringEngine>> UringEngine::create(const core::ServeResources& r,
                                                               std::vector<core::Fd>& listeners) {
  std::unique_ptr<UringEngine> engine(new UringEngine(r.config.max_conns));
  for (size_t i = 0; i < listeners.size(); ++i) {
    auto p = Proactor::create(r.config, r.root_fd, r.access_log_fd, engine->budget_);
    if (!p) return std::unexpected(p.error());
    engine->rings_.push_back(std::move(*p));
  }
  RW_LOG_DEBUG("io_uring rings: {}", engine->rings_.front()->ring_mode());
  engine->listeners_ = std::move(listeners);
  return engine;
}

UringEngine::~UringEngine() {
  request_stop();
  wait();
}

void UringEngine::start() {
  for (size_t i = 0; i < rings_.size(); ++i)
    threads_.emplace_back([ring = rings_[i].get(), l = std::move(listeners_[i])]() mutable { ring->run(std::move(l)); });
}

void UringEngine::request_stop() noexcept {
  for (auto& ring : rings_) ring->request_stop();
}

void UringEngine::wait() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

}  // namespace ringwire::proactor
