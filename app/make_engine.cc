// make_engine (core/engine.h): the one place that knows every engine, and
// the io_uring -> epoll fallback.
#include <cstring>
#include <stdexcept>

#include "app/http_service.h"
#include "baseline/prefork_engine.h"
#include "baseline/threads_engine.h"
#include "core/engine.h"
#include "core/log.h"
#include "proactor/uring_engine.h"
#include "reactor/reactor_engine.h"

namespace ringwire::core {

std::unique_ptr<Engine> make_engine(EngineKind kind, const Service& service, const RingOptions& ring,
                                    std::vector<Fd> listeners) {
  switch (kind) {
    case EngineKind::Uring: {
      auto uring = proactor::UringEngine::create(service, ring, listeners);
      if (uring) return std::move(*uring);
      RW_LOG_WARN("io_uring unavailable ({}); running the reactor engine instead", strerror(uring.error()));
      return std::make_unique<reactor::ReactorEngine>(service, std::move(listeners), ring.busy_poll_us);
    }
    case EngineKind::Reactor:
      return std::make_unique<reactor::ReactorEngine>(service, std::move(listeners), ring.busy_poll_us);
    case EngineKind::Threads:
    case EngineKind::Prefork: break;
  }
  // The blocking models serve HTTP only: the balancer runs on the event engines.
  auto* http = dynamic_cast<const app::HttpService*>(&service);
  if (!http)
    throw std::runtime_error(fmt::format(
        "engine '{}' serves HTTP only; run the balancer with --engine uring or reactor", engine_name(kind)));
  if (kind == EngineKind::Threads)
    return std::make_unique<baseline::ThreadsEngine>(http->config(), http->root_fd(), http->access_log_fd(),
                                                     std::move(listeners));
  return std::make_unique<baseline::PreforkEngine>(http->config(), http->root_fd(), http->access_log_fd(),
                                                   std::move(listeners));
}

}  // namespace ringwire::core
