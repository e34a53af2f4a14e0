#pragma once

#include <cassert>
#include <thread>

namespace ringwire::core {

// LoopThread records which thread runs a loop, so that debug builds can
// assert that a loop's methods are called only there (muduo's
// assertInLoopThread). A loop's state has no locks: a call from another
// thread is a data race, and this catches it where it happens. Unbound (before
// run() and after it returns, when the owner tears the loop down), any
// thread may call.
class LoopThread {
 public:
  void bind() noexcept { id_ = std::this_thread::get_id(); }
  void unbind() noexcept { id_ = {}; }
  void assert_here() const noexcept { assert(id_ == std::thread::id{} || id_ == std::this_thread::get_id()); }

 private:
  std::thread::id id_;
};

}  // namespace ringwire::core
