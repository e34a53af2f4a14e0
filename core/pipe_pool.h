#pragma once

#include <cstddef>
#include <vector>

#include "core/fd.h"

namespace ringwire::core {

// A pipe for splice(2): both ends nonblocking, and its capacity, which the
// kernel may have cut to one page (see PipePool).
struct Pipe {
  Fd read_end;
  Fd write_end;
  size_t capacity = 0;
  explicit operator bool() const noexcept { return read_end.valid(); }
};

// PipePool keeps a worker's idle pipes. A relay direction takes a pipe only
// while bytes sit in it and gives it back once it has drained, so an idle
// relayed connection holds none. Creating pipes can fail or be cut short:
// EMFILE/ENFILE; and once a user's pipes exceed fs.pipe-user-pages-soft
// (16384 pages, about 1,000 pipes of 64 KiB) the kernel makes new ones a
// single page. take() then returns an empty Pipe and the caller copies
// through a small buffer instead: a connection is never refused for lack of
// a pipe. One per worker thread; not shared.
class PipePool {
 public:
  static constexpr size_t kPipeSize = 64 * 1024;
  static constexpr size_t kMaxIdle = 256;

  // An empty pipe from the pool, a new one, or an empty Pipe when none can be made.
  Pipe take();
  // `p` must be empty (every byte spliced out).
  void give_back(Pipe p);
  size_t idle() const noexcept { return idle_.size(); }
  size_t created() const noexcept { return created_; }

 private:
  std::vector<Pipe> idle_;
  size_t created_ = 0;
};

}  // namespace ringwire::core
