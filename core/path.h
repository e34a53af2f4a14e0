#pragma once

#include <cstddef>
#include <string_view>

namespace ringwire::core {

enum class PathStatus { Ok, BadRequest };

// Turns a request target into a path relative to the document root:
// drops the query, percent-decodes, rejects NUL and malformed escapes,
// removes "." and ".." segments (RFC 3986 section 5.2.4) and refuses a path
// that climbs above the root. The result has no leading '/'; "" is the root
// itself. A trailing '/' is kept, so "dir/" still reads as a directory.
// `out` must hold at least target.size() + 1 bytes; `out_len` gets the length.
PathStatus normalize_target(std::string_view target, char* out, size_t& out_len) noexcept;

}  // namespace ringwire::core
