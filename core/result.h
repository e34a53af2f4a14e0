#pragma once

#include <cerrno>
#include <expected>

namespace ringwire::core {

// Syscall wrappers return Result<T>: the value, or the errno that explains why
// not. EAGAIN, EINTR and ENOBUFS are states the caller handles, not failures.
template <class T>
using Result = std::expected<T, int>;

inline std::unexpected<int> last_errno() noexcept {
  return std::unexpected(errno);
}

}  // namespace ringwire::core
