#include "core/config.h"

namespace ringwire::core {

const char* engine_name(EngineKind kind) noexcept {
  switch (kind) {
    case EngineKind::Reactor: return "reactor";
    case EngineKind::Uring: return "uring";
    case EngineKind::Threads: return "threads";
    case EngineKind::Prefork: return "prefork";
  }
  return "?";
}

bool parse_engine(std::string_view text, EngineKind& out) noexcept {
  for (auto k : {EngineKind::Reactor, EngineKind::Uring, EngineKind::Threads, EngineKind::Prefork}) {
    if (text == engine_name(k)) {
      out = k;
      return true;
    }
  }
  return false;
}

}  // namespace ringwire::core
