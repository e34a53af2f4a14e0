// wake_latency: what one request/response round trip over loopback TCP
// costs on this machine before any server code runs, so that a sweep's
// single-connection points (ab -c 1, wrk -c 1) can be read against the
// machine's own ceiling. A client and an echo peer in two processes bounce
// one byte N times:
//   blocking     client on --client-core, peer on --server-core, both block
//                in recv(2): every message wakes a sleeping core;
//   server_spin  the same, but the peer polls with MSG_DONTWAIT instead of
//                sleeping (what a busy-polling server does): one wake-up per
//                round trip is left, the client's;
//   same_core    both on --server-core: no cross-core wake-up at all.
// On a VM whose idle vCPU must be woken by the hypervisor, "blocking" is
// several times "same_core"; one connection cannot do more than
// 1e6 / blocking_rt_us requests per second, whatever the server does.
//   usage: wake_latency [--client-core N] [--server-core N] [--rounds N] [--json]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "wake_latency: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

void pin(int core) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) die("sched_setaffinity");
}

// A connected loopback TCP pair with Nagle off on both ends.
void tcp_pair(int& a, int& b) {
  int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (l < 0) die("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(l, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(l, 1) != 0 ||
      ::getsockname(l, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    die("listen");
  a = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (a < 0 || ::connect(a, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("connect");
  b = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
  if (b < 0) die("accept");
  ::close(l);
  int one = 1;
  ::setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Mean round trip in microseconds over `rounds`, after a warm-up.
double measure(int client_core, int server_core, bool spin, int rounds) {
  int a = -1;
  int b = -1;
  tcp_pair(a, b);
  pid_t pid = ::fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    ::close(a);
    pin(server_core);
    char c;
    for (;;) {
      ssize_t n = ::recv(b, &c, 1, spin ? MSG_DONTWAIT : 0);
      if (n == 0) ::_exit(0);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        ::_exit(1);
      }
      if (::send(b, &c, 1, MSG_NOSIGNAL) != 1) ::_exit(1);
    }
  }
  ::close(b);
  pin(client_core);
  auto bounce = [a](int n) {
    char c = 'x';
    for (int i = 0; i < n; ++i) {
      if (::send(a, &c, 1, MSG_NOSIGNAL) != 1 || ::recv(a, &c, 1, MSG_WAITALL) != 1) die("round trip");
    }
  };
  bounce(std::max(rounds / 10, 100));
  auto t0 = std::chrono::steady_clock::now();
  bounce(rounds);
  auto t1 = std::chrono::steady_clock::now();
  ::close(a);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return std::chrono::duration<double, std::micro>(t1 - t0).count() / rounds;
}

int arg_int(int argc, char** argv, int& i) {
  if (i + 1 >= argc) {
    std::fprintf(stderr, "wake_latency: %s needs a value\n", argv[i]);
    std::exit(2);
  }
  char* end = nullptr;
  long v = std::strtol(argv[++i], &end, 10);
  if (*end != '\0' || v < 0 || v > 10'000'000) {
    std::fprintf(stderr, "wake_latency: bad value for %s: %s\n", argv[i - 1], argv[i]);
    std::exit(2);
  }
  return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
  int client_core = 0;
  int server_core = 1;
  int rounds = 20000;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--client-core") {
      client_core = arg_int(argc, argv, i);
    } else if (a == "--server-core") {
      server_core = arg_int(argc, argv, i);
    } else if (a == "--rounds") {
      rounds = std::max(arg_int(argc, argv, i), 1);
    } else if (a == "--json") {
      json = true;
    } else {
      std::fprintf(stderr, "usage: wake_latency [--client-core N] [--server-core N] [--rounds N] [--json]\n");
      return 2;
    }
  }
  double blocking = measure(client_core, server_core, false, rounds);
  double spin = measure(client_core, server_core, true, rounds);
  double same = measure(server_core, server_core, false, rounds);
  if (json) {
    std::printf(
        "{\"blocking_rt_us\": %.2f, \"server_spin_rt_us\": %.2f, \"same_core_rt_us\": %.2f, \"rounds\": %d, "
        "\"client_core\": %d, \"server_core\": %d}\n",
        blocking, spin, same, rounds, client_core, server_core);
  } else {
    std::printf("loopback TCP round trip, 1 byte, %d rounds (client core %d, peer core %d)\n", rounds, client_core,
                server_core);
    std::printf("  blocking      %8.2f us   (one connection: at most %.0f requests/s)\n", blocking, 1e6 / blocking);
    std::printf("  server_spin   %8.2f us   (the peer polls instead of sleeping)\n", spin);
    std::printf("  same_core     %8.2f us   (no cross-core wake-up)\n", same);
  }
  return 0;
}
