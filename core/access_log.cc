#include "core/access_log.h"

#include <fmt/format.h>
#include <unistd.h>

namespace ringwire::core {

void AccessLog::record(const Endpoint& peer, const http::Request* req, int status, uint64_t bytes) {
  if (stamp_second_ != clock_.unix_seconds()) {
    stamp_second_ = clock_.unix_seconds();
    tm g{};
    gmtime_r(&stamp_second_, &g);
    strftime(stamp_, sizeof stamp_, "%d/%b/%Y:%H:%M:%S +0000", &g);
  }
  char host[64];
  size_t host_len = peer.format_host(host, sizeof host);
  auto dash = [](std::string_view v) { return v.empty() ? std::string_view("-") : v; };
  // Quoted fields come from the client: escape quotes and control bytes so a
  // request cannot forge log lines.
  auto quoted = [](std::string& out, std::string_view v) {
    for (unsigned char c : v) {
      if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f)
        fmt::format_to(std::back_inserter(out), "\\x{:02X}", c);
      else
        out.push_back(static_cast<char>(c));
    }
  };
  fmt::format_to(std::back_inserter(buf_), "{} - - [{}] \"", std::string_view(host, host_len), stamp_);
  quoted(buf_, req ? req->request_line : "-");
  fmt::format_to(std::back_inserter(buf_), "\" {} {} \"", status, bytes);
  quoted(buf_, dash(req ? req->referer : ""));
  buf_ += "\" \"";
  quoted(buf_, dash(req ? req->user_agent : ""));
  buf_ += "\"\n";
  if (buf_.size() > 32 * 1024) flush();
}

void AccessLog::flush() noexcept {
  size_t off = 0;
  while (off < buf_.size()) {
    ssize_t n = ::write(fd_, buf_.data() + off, buf_.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // a full disk loses log lines, never requests
    off += static_cast<size_t>(n);
  }
  buf_.clear();
}

}  // namespace ringwire::core
