#include "core/path.h"

#include "core/ascii.h"

namespace ringwire::core {
PathStatus normalize_target(std::string_view target, char* out, size_t& out_len) noexcept {
  size_t q = target.find('?');
  if (q != std::string_view::npos) target = target.substr(0, q);
  if (target.empty() || target.front() != '/') return PathStatus::BadRequest;

  // Decode first, then remove dot segments, so "%2e%2e" is a ".." like any other.
  size_t n = 0;
  for (size_t i = 0; i < target.size(); ++i) {
    char c = target[i];
    if (c == '%') {
      if (i + 2 >= target.size()) return PathStatus::BadRequest;
      int hi = hex_value(target[i + 1]), lo = hex_value(target[i + 2]);
      if (hi < 0 || lo < 0) return PathStatus::BadRequest;
      c = static_cast<char>(hi * 16 + lo);
      if (c == '\0') return PathStatus::BadRequest;
      i += 2;
    }
    out[n++] = c;
  }

  // Remove dot segments in place. `w` is the write position; segments are
  // copied without their leading '/'.
  size_t w = 0;
  size_t i = 0;
  while (i < n) {
    while (i < n && out[i] == '/') ++i;  // collapse "//"
    size_t start = i;
    while (i < n && out[i] != '/') ++i;
    size_t len = i - start;
    bool trailing = i < n;  // a '/' follows this segment
    if (len == 1 && out[start] == '.') {
      continue;
    }
    if (len == 2 && out[start] == '.' && out[start + 1] == '.') {
      if (w == 0) return PathStatus::BadRequest;  // above the root
      // Drop the last written segment and its '/'.
      if (out[w - 1] == '/') --w;
      while (w > 0 && out[w - 1] != '/') --w;
      continue;
    }
    if (len == 0) break;
    for (size_t k = 0; k < len; ++k) out[w++] = out[start + k];
    if (trailing) out[w++] = '/';
  }
  // A path ending in "/." or "/.." names a directory: keep the '/'.
  out_len = w;
  out[w] = '\0';
  return PathStatus::Ok;
}

}  // namespace ringwire::core
