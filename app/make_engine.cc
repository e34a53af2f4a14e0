// make_engine (core/engine.h): the one place that knows every engine, and
// the io_uring -> epoll fallback.
#include <cstring>
#include <stdexcept>

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
      return std::make_unique<reactor::ReactorEngine>(service, std::move(listeners));
    }
    case EngineKind::Reactor:
      return std::make_unique<reactor::ReactorEngine>(service, std::move(listeners));
    case EngineKind::Threads:
    case EngineKind::Prefork:
      break;
  }
  throw std::runtime_error(fmt::format("engine '{}' is not built yet; use --engine uring or --engine reactor",
                                       engine_name(kind)));
}

}  // namespace ringwire::core
