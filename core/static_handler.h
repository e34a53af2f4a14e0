#pragma once

#include <cstdint>
#include <string_view>

#include "core/clock.h"
#include "core/file_cache.h"
#include "core/http_parser.h"
#include "core/out_queue.h"

namespace ringwire::core {

// How the response tells the client about the connection's future.
enum class ConnectionMode : uint8_t {
  Default,    // HTTP/1.1 persistent: no Connection header
  KeepAlive,  // HTTP/1.0 persistent: "Connection: keep-alive"
  Close,      // "Connection: close"; the server closes after sending
};

struct ResponseInfo {
  int status = 0;
  uint64_t body_bytes = 0;
};

// StaticHandler answers requests from a document root: GET and HEAD of
// files, conditional requests (304), single byte ranges (206/416),
// directory redirects, and every error the core can produce. It queues the
// answer into an OutQueue and formats as little as possible: a cached file is
// queued by reference. One per worker thread.
class StaticHandler {
 public:
  StaticHandler(int root_fd, const CacheLimits& limits, const Clock& clock);

  ResponseInfo serve(const http::Request& req, ConnectionMode mode, OutQueue& out);

  // Queues a complete error response (small HTML body unless `head_only`).
  ResponseInfo error(int status, ConnectionMode mode, OutQueue& out, bool head_only = false);

  FileCache& cache() noexcept { return cache_; }

 private:
  ResponseInfo serve_file(const http::Request& req, const FileEntry& e, const std::shared_ptr<const FileEntry>& hold,
                          ConnectionMode mode, OutQueue& out);
  ResponseInfo not_modified(const FileEntry& e, ConnectionMode mode, OutQueue& out);
  ResponseInfo redirect(std::string_view target, ConnectionMode mode, OutQueue& out, bool head);

  const Clock& clock_;
  FileCache cache_;
};

std::string_view reason_phrase(int status) noexcept;

}  // namespace ringwire::core
