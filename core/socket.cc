#include "core/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/tcp.h>
#include <sys/resource.h>

#include <charconv>
#include <cstring>

namespace ringwire::core {

uint16_t Endpoint::port() const noexcept {
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(addr).sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in&>(addr).sin_port);
}

void Endpoint::set_port(uint16_t port) noexcept {
  if (addr.ss_family == AF_INET6)
    reinterpret_cast<sockaddr_in6&>(addr).sin6_port = htons(port);
  else
    reinterpret_cast<sockaddr_in&>(addr).sin_port = htons(port);
}

size_t Endpoint::format_host(char* out, size_t cap) const noexcept {
  const void* src = addr.ss_family == AF_INET6
                        ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr)
                        : static_cast<const void*>(&reinterpret_cast<const sockaddr_in&>(addr).sin_addr);
  if (!inet_ntop(addr.ss_family, src, out, cap)) return 0;
  return strlen(out);
}

std::string Endpoint::to_string() const {
  char host[INET6_ADDRSTRLEN];
  size_t n = format_host(host, sizeof host);
  if (addr.ss_family == AF_INET6) return fmt::format("[{}]:{}", std::string_view(host, n), port());
  return fmt::format("{}:{}", std::string_view(host, n), port());
}

std::expected<Endpoint, std::string> parse_endpoint(std::string_view text) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::unexpected(fmt::format("invalid address '{}': expected [IPv6]:PORT", text));
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos)
      return std::unexpected(fmt::format("invalid address '{}': expected HOST:PORT", text));
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value > 65535)
    return std::unexpected(fmt::format("invalid port in '{}'", text));

  Endpoint ep;
  std::string h(host);
  if (h.empty()) h = "0.0.0.0";
  if (h == "localhost") h = "127.0.0.1";
  auto& v4 = reinterpret_cast<sockaddr_in&>(ep.addr);
  auto& v6 = reinterpret_cast<sockaddr_in6&>(ep.addr);
  if (inet_pton(AF_INET, h.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    ep.len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, h.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    ep.len = sizeof(sockaddr_in6);
  } else {
    return std::unexpected(fmt::format("invalid address '{}': not a numeric IPv4/IPv6 address", text));
  }
  ep.set_port(static_cast<uint16_t>(value));
  return ep;
}

Result<Fd> listen_tcp(const Endpoint& ep, bool reuseport, int backlog) {
  Fd fd(::socket(ep.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return last_errno();
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuseport && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) return last_errno();
  if (ep.addr.ss_family == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  // Accepted sockets inherit TCP_NODELAY from the listener on Linux: one
  // setsockopt here instead of one per connection.
  set_nodelay(fd.get());
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&ep.addr), ep.len) < 0) return last_errno();
  if (::listen(fd.get(), backlog) < 0) return last_errno();
  return fd;
}

Result<Endpoint> local_endpoint(int fd) {
  Endpoint ep;
  ep.len = sizeof ep.addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ep.addr), &ep.len) < 0) return last_errno();
  return ep;
}

void set_nodelay(int fd) noexcept {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

uint64_t raise_nofile_limit() noexcept {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) < 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

}  // namespace ringwire::core
