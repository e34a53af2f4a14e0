#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "core/socket.h"

namespace ringwire::lb {

// One backend as configured: "HOST:PORT" (numeric address or localhost) and a weight.
struct BackendSpec {
  core::Endpoint addr;
  std::string text;  // as the user wrote it, for logs: "127.0.0.1:9002"
  unsigned weight = 1;
};

inline constexpr unsigned kMaxWeight = 1000;

// "HOST:PORT" or "HOST:PORT,weight=N" (--backend). Weight 1..1000. The error
// reads "bad backend 'TEXT': REASON".
std::expected<BackendSpec, std::string> parse_backend_arg(std::string_view text);

// A --backends file: one "HOST:PORT [weight]" per line ("weight=N" is accepted
// too), '#' starts a comment, blank lines ignored. The error names the file
// and line: "FILE:3: bad backend 'xyz': ...". An empty list and an address
// listed twice are errors.
std::expected<std::vector<BackendSpec>, std::string> parse_backends_file(const std::string& path);

// The canonical form of a backend's address ("127.0.0.1:9000" for
// "localhost:9000"): two specs name the same backend when their keys match.
std::string backend_key(const BackendSpec& spec);

}  // namespace ringwire::lb
