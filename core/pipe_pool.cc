#include "core/pipe_pool.h"

#include <fcntl.h>
#include <unistd.h>

namespace ringwire::core {

Pipe PipePool::take() {
  if (!idle_.empty()) {
    Pipe p = std::move(idle_.back());
    idle_.pop_back();
    return p;
  }
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) return {};
  Pipe p{Fd(fds[0]), Fd(fds[1]), 0};
  // 64 KiB is the default; asking makes the size explicit, and reading it
  // back tells whether the soft limit has cut it to a page.
  ::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(kPipeSize));
  int size = ::fcntl(fds[1], F_GETPIPE_SZ);
  if (size <= 0) return {};
  p.capacity = static_cast<size_t>(size);
  ++created_;
  return p;
}

void PipePool::give_back(Pipe p) {
  if (!p || idle_.size() >= kMaxIdle) return;  // closed by the destructor
  idle_.push_back(std::move(p));
}

}  // namespace ringwire::core
