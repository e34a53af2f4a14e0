#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace ringwire::core {

// The links a connection needs to sit in a DeadlineLists.
template <class T>
struct DeadlineHook {
  T* prev = nullptr;
  T* next = nullptr;
  int64_t deadline = 0;
  int list = -1;  // which list, or -1 for none
};

// DeadlineLists keeps connections in per-timeout-kind lists (header, idle,
// write, ...). Every list has one fixed timeout, so appending at the tail
// keeps it sorted by deadline: setting, moving or expiring a timer is O(1),
// and the nearest deadline is at a list head. T carries a
// `DeadlineHook<T> timer` member. One per worker thread; not shared.
template <class T, int N>
class DeadlineLists {
 public:
  void set_timeout(int kind, int64_t ms) noexcept { lists_[kind].timeout_ms = ms; }

  // Moves `c` to the tail of list `kind` with a fresh deadline.
  void schedule(T* c, int kind, int64_t now_ms) noexcept {
    unlink(c);
    List& l = lists_[kind];
    c->timer.list = kind;
    c->timer.deadline = now_ms + l.timeout_ms;
    c->timer.prev = l.tail;
    c->timer.next = nullptr;
    (l.tail ? l.tail->timer.next : l.head) = c;
    l.tail = c;
  }

  void unlink(T* c) noexcept {
    if (c->timer.list < 0) return;
    List& l = lists_[c->timer.list];
    (c->timer.prev ? c->timer.prev->timer.next : l.head) = c->timer.next;
    (c->timer.next ? c->timer.next->timer.prev : l.tail) = c->timer.prev;
    c->timer.list = -1;
  }

  T* head(int kind) const noexcept { return lists_[kind].head; }

  // Calls f(c) for every connection in list `kind`, oldest first; f may
  // unlink the one it is given, or move it to another list.
  template <class F>
  void for_each(int kind, F&& f) {
    for (T* c = lists_[kind].head; c;) {
      T* next = c->timer.next;
      f(c);
      c = next;
    }
  }

  // Calls on_expired(c, kind) for each connection whose deadline has come,
  // oldest first in each list. on_expired must take `c` out of the list or
  // give it a later deadline; one that does neither would be met again at
  // once, so on_stuck(c) is called for it, and must take it out.
  template <class OnExpired, class OnStuck>
  void expire(int64_t now_ms, OnExpired&& on_expired, OnStuck&& on_stuck) {
    for (int kind = 0; kind < N; ++kind) {
      while (T* c = lists_[kind].head) {
        if (c->timer.deadline > now_ms) break;
        on_expired(c, kind);
        if (lists_[kind].head == c && c->timer.deadline <= now_ms) on_stuck(c);
      }
    }
  }

  // Every connection in every list, for work that may move or unlink them
  // while it runs (a stop).
  std::vector<T*> snapshot() const {
    std::vector<T*> all;
    for (const List& l : lists_)
      for (T* c = l.head; c; c = c->timer.next) all.push_back(c);
    return all;
  }

  // The first list with a connection in it, or nullptr.
  T* any() const noexcept {
    for (const List& l : lists_)
      if (l.head) return l.head;
    return nullptr;
  }

  // Milliseconds until the nearest deadline, at most `cap`, at least 0.
  int64_t wait_ms(int64_t now_ms, int64_t cap) const noexcept {
    for (const List& l : lists_)
      if (l.head) cap = std::min(cap, std::max<int64_t>(0, l.head->timer.deadline - now_ms));
    return cap;
  }

 private:
  struct List {
    T* head = nullptr;
    T* tail = nullptr;
    int64_t timeout_ms = 0;
  };
  std::array<List, N> lists_{};
};

}  // namespace ringwire::core
