#include "core/socket.h"

#include <gtest/gtest.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

namespace ringwire::core {
namespace {

// The engines rely on accepted sockets inheriting TCP_NODELAY from the
// listener instead of setting it once per connection.
TEST(ListenTcp, AcceptedSocketsInheritNoDelay) {
  auto ep = parse_endpoint("127.0.0.1:0");
  ASSERT_TRUE(ep);
  auto listener = listen_tcp(*ep, true, 16);
  ASSERT_TRUE(listener) << listener.error();
  auto bound = local_endpoint(listener->get());
  ASSERT_TRUE(bound);
  EXPECT_NE(bound->port(), 0);

  Fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(::connect(client.get(), reinterpret_cast<const sockaddr*>(&bound->addr), bound->len), 0);
  pollfd p{listener->get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  Fd accepted(::accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted);
  int on = 0;
  socklen_t len = sizeof on;
  ASSERT_EQ(::getsockopt(accepted.get(), IPPROTO_TCP, TCP_NODELAY, &on, &len), 0);
  EXPECT_EQ(on, 1);
}

}  // namespace
}  // namespace ringwire::core
