#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/http_session.h"
#include "core/http_worker.h"
#include "core/socket.h"

namespace ringwire::core {

// HttpConnection is the HTTP connection lifecycle, decided once for every
// engine: the bytes received and not yet parsed, the response plan, the
// protocol session, and, each time the plan has been sent, what comes next
// (read on, linger, close) under which timer. An engine owns the socket and
// makes the syscalls; it asks this class what to do and reports what
// happened. No syscalls here.
//
// The engine's drive step, the same on every engine:
//
//   for (;;) {
//     bool again = c.parse();           // requests -> plan, while it has room
//     if (c.has_output()) send it (the engine's way), stop here if it blocks
//     if (!again) break;                // an incomplete head, or nothing left
//   }
//   Settle s = c.settle(stopping);      // read on (under s.timer), linger, or close
class HttpConnection {
 public:
  enum class Next : uint8_t { Read, Linger, Close };
  struct Settle {
    Next next;
    int timer;     // the TimerKind to wait under
    bool restart;  // restart it even if already in that list (progress)
  };
  // The next piece of the plan to send: bytes (iov points into stable
  // storage that lives until sent() is called) or a file range.
  struct Send {
    const iovec* iov = nullptr;
    size_t iovcnt = 0;
    const msghdr* msg = nullptr;  // for iovcnt > 1: a msghdr over iov, as stable
    int file_fd = -1;             // borrowed, valid until sent() covers it
    off_t file_offset = 0;
    size_t file_len = 0;
    bool is_file() const noexcept { return file_fd >= 0; }
  };

  explicit HttpConnection(HttpWorker& worker) noexcept : worker_(worker) {}
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // The client's address, kept only when the access log needs it.
  bool wants_peer() const noexcept { return worker_.access_log() != nullptr; }
  void set_peer(const Endpoint& peer);

  // --- Input ---
  // Bytes received into the engine's memory (a provided buffer): parsed in
  // place when nothing is pending, and only what is left copied. False when
  // the client has pipelined more than kInMax without reading: close it.
  bool absorb(const char* data, size_t n);
  // For engines that receive straight into the connection's buffer.
  char* input_space(size_t& room);
  void input_added(size_t n) noexcept { in_len_ += n; }
  size_t buffered() const noexcept { return in_len_; }
  // The client sends nothing more: complete requests already buffered are
  // still answered, then the connection closes.
  void set_eof() noexcept { eof_ = true; }
  bool eof() const noexcept { return eof_; }

  // --- The plan ---
  // Parses buffered requests into the plan while it has room. True when it
  // should be called again once the plan is sent: it consumed requests or
  // found the plan full, and input remains.
  bool parse();
  bool has_output() const noexcept { return flight_.iov_len > 0 || (out_ && !out_->q.empty()); }
  Send next_send();
  // `n` bytes of what next_send() gave have gone out.
  void sent(size_t n) noexcept;

  // --- What next ---
  // With nothing left to send or in flight: read on (under which timer),
  // linger (half-close, drain input, close at EOF or kLingerTimer), or close.
  Settle settle(bool stopping);
  // After the engine half-closed the socket.
  void set_lingering() noexcept;
  bool lingering() const noexcept { return lingering_; }
  // A timer expired. True: an answer (408 to a stalled head) was queued,
  // send it and then close; false: close now.
  bool on_timeout(int kind);
  // The server stops. True: nothing started, close now; false: the
  // connection finishes what it has queued and closes (requests not yet
  // parsed are dropped, as RFC 9112 section 9.3.2 allows).
  bool stop();
  // Drops everything buffered and returns the buffers to the pools.
  void release() noexcept;
  // Hands an empty input buffer and an empty queue back to the pools.
  void return_idle_buffers() noexcept;

 private:
  static constexpr size_t kInMax = 1024 * 1024;

  Output& output();
  const Endpoint& client() const noexcept;
  bool append_input(const char* data, size_t n);

  HttpWorker& worker_;
  char* in_ = nullptr;  // bytes received, not parsed; pooled when kInBuf
  uint32_t in_len_ = 0;
  uint32_t in_cap_ = 0;
  Output* out_ = nullptr;  // pooled; held only while output is pending
  // The common keep-alive answer, one cached response, is sent from here
  // rather than from an Output: a turn that answers hundreds of requests
  // then holds hundreds of these instead of 8 KiB queues.
  iovec flight_{};
  std::shared_ptr<const void> flight_hold_;
  HttpSession session_;
  bool eof_ = false;
  bool lingering_ = false;
  std::unique_ptr<Endpoint> peer_;
};

}  // namespace ringwire::core
