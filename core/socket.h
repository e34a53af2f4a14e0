#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/fd.h"
#include "core/result.h"

namespace ringwire::core {

// An IPv4 or IPv6 socket address.
struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;

  uint16_t port() const noexcept;
  void set_port(uint16_t port) noexcept;
  // "127.0.0.1:8080" or "[::1]:8080".
  std::string to_string() const;
  // Only the address part ("127.0.0.1", "::1"), written into `out`; returns its length.
  size_t format_host(char* out, size_t cap) const noexcept;
};

// Parses "HOST:PORT", "[V6]:PORT" or ":PORT" (all IPv4 addresses). Numeric
// addresses plus "localhost". Returns an error message on failure.
std::expected<Endpoint, std::string> parse_endpoint(std::string_view text);

// A non-blocking listening TCP socket bound to `ep` with SO_REUSEADDR and,
// when `reuseport`, SO_REUSEPORT so that every worker can own a listener.
// TCP_NODELAY is set on it, and accepted sockets inherit it.
Result<Fd> listen_tcp(const Endpoint& ep, bool reuseport, int backlog);

// The address a socket is bound to (to learn the port the kernel chose for :0).
Result<Endpoint> local_endpoint(int fd);

void set_nodelay(int fd) noexcept;

// Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the new soft limit.
uint64_t raise_nofile_limit() noexcept;

}  // namespace ringwire::core
