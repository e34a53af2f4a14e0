// ringwire: `ringwire serve` (the HTTP server) and `ringwire lb` (the TCP
// balancer), each on the chosen engine. main parses, makes the engine,
// starts it, waits for a signal on this thread, and stops it.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstring>
#include <iterator>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "app/http_service.h"
#include "app/lb_service.h"
#include "core/config.h"
#include "core/engine.h"
#include "core/log.h"
#include "core/socket.h"
#include "lb/balancer.h"
#include "lb/lb_config.h"

using namespace ringwire;

namespace {

[[noreturn]] void die(const std::string& msg) {
  fmt::print(stderr, "ringwire: error: {}\n", msg);
  std::exit(2);
}

// Signals are taken synchronously by the main thread (sigwait): workers
// never see them. SIGPIPE is ignored so a closed peer is only an EPIPE.
sigset_t block_signals() {
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// One listener per worker on the same address (SO_REUSEPORT). With port 0
// the first bind picks the port and the others reuse it; `ep` gets it.
std::vector<core::Fd> listen_all(core::Endpoint& ep, unsigned workers) {
  std::vector<core::Fd> listeners;
  for (unsigned i = 0; i < workers; ++i) {
    auto fd = core::listen_tcp(ep, true, 4096);
    if (!fd) die(fmt::format("cannot listen on {}: {}", ep.to_string(), strerror(fd.error())));
    if (i == 0) ep = core::local_endpoint(fd->get()).value_or(ep);
    listeners.push_back(std::move(*fd));
  }
  return listeners;
}

// The blocking models serve HTTP only.
void refuse_for_lb(core::EngineKind engine) {
  if (engine == core::EngineKind::Threads || engine == core::EngineKind::Prefork)
    die(fmt::format("engine '{}' serves HTTP only; run the balancer with --engine uring or --engine reactor",
                    core::engine_name(engine)));
}

std::unique_ptr<core::Engine> make(core::EngineKind kind, const core::Service& service, core::RingOptions ring,
                                   std::vector<core::Fd> listeners) {
  try {
    return core::make_engine(kind, service, ring, std::move(listeners));
  } catch (const std::exception& e) {
    die(e.what());
  }
}

// Waits for SIGINT or SIGTERM; SIGHUP calls `on_hup` and waits on.
template <class OnHup>
void wait_for_stop(const sigset_t& set, OnHup&& on_hup) {
  for (;;) {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig == SIGHUP) {
      on_hup();
      continue;
    }
    RW_LOG_INFO("{}: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    return;
  }
}

int serve(const core::ServeConfig& cfg) {
  core::set_log_level(cfg.log_level);
  core::raise_nofile_limit();
  if (cfg.busy_poll_us != 0 && (cfg.engine == core::EngineKind::Threads || cfg.engine == core::EngineKind::Prefork))
    die(fmt::format("--busy-poll needs an event engine (uring or reactor); '{}' blocks in its syscalls",
                    core::engine_name(cfg.engine)));

  core::Fd root(::open(cfg.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) die(fmt::format("cannot open root '{}': {}", cfg.root, strerror(errno)));
  core::Fd access_log;
  if (cfg.access_log == "-") {
    access_log.reset(::dup(STDOUT_FILENO));
  } else if (!cfg.access_log.empty()) {
    access_log.reset(::open(cfg.access_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!access_log) die(fmt::format("cannot open access log '{}': {}", cfg.access_log, strerror(errno)));
  }

  sigset_t set = block_signals();
  core::Endpoint ep = cfg.listen;
  std::vector<core::Fd> listeners = listen_all(ep, cfg.workers);
  app::HttpService service(cfg, root.get(), access_log.get());
  auto engine =
      make(cfg.engine, service, {cfg.ring_buffers, cfg.ring_cq_entries, cfg.busy_poll_us}, std::move(listeners));
  engine->start();
  RW_LOG_INFO("listening on {} (engine {}, {} workers)", ep.to_string(), engine->name(), cfg.workers);
  wait_for_stop(set, [] { RW_LOG_INFO("SIGHUP: nothing to reload for serve"); });
  engine->request_stop();
  engine->wait();
  RW_LOG_INFO("stopped");
  return 0;
}

int balance(const lb::LbConfig& cfg) {
  core::set_log_level(cfg.log_level);
  refuse_for_lb(cfg.engine);
  core::raise_nofile_limit();

  sigset_t set = block_signals();
  core::Endpoint ep = cfg.listen;
  std::vector<core::Fd> listeners = listen_all(ep, cfg.workers);
  lb::Balancer balancer(cfg.policy, cfg.backends, cfg.rise, cfg.fall);
  lb::HealthChecker health(balancer, cfg.health_interval_ms, cfg.relay.connect_timeout_ms);
  health.start();
  app::LbService service(cfg, balancer);
  auto engine =
      make(cfg.engine, service, {cfg.ring_buffers, cfg.ring_cq_entries, cfg.busy_poll_us}, std::move(listeners));
  engine->start();
  // The relay mode is io_uring's (a fallback to the reactor has none).
  std::string relay_mode;
  if (std::string_view(engine->name()) == "uring")
    relay_mode = fmt::format(", {} relay", lb::kUringRelayNames[static_cast<int>(cfg.relay.uring_relay)]);
  RW_LOG_INFO("balancing on {} over {} backends ({} policy, engine {}{}, {} workers)", ep.to_string(),
              cfg.backends.size(), lb::policy_name(cfg.policy), engine->name(), relay_mode, cfg.workers);
  RW_LOG_INFO("listening on {} (engine {}, {} workers)", ep.to_string(), engine->name(), cfg.workers);
  wait_for_stop(set, [&] {
    if (cfg.backends_file.empty()) {
      RW_LOG_WARN("SIGHUP: no --backends file to reload");
      return;
    }
    auto specs = lb::parse_backends_file(cfg.backends_file);
    if (!specs) {
      RW_LOG_ERROR("SIGHUP: {}; keeping the current backends", specs.error());
      return;
    }
    size_t n = specs->size();
    balancer.reload(std::move(*specs));
    RW_LOG_INFO("SIGHUP: reloaded {} backends from {}", n, cfg.backends_file);
  });
  health.stop();
  engine->request_stop();
  engine->wait();
  RW_LOG_INFO("stopped");
  return 0;
}

// Seconds on the command line (fractions allowed) to milliseconds.
int64_t to_ms(double seconds) {
  return static_cast<int64_t>(std::llround(seconds * 1000.0));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ringwire: a small, fast HTTP/1.1 static file server and TCP load balancer"};
  app.set_version_flag("--version", std::string("ringwire ") + RINGWIRE_VERSION);
  app.require_subcommand(1);
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const auto engines = CLI::IsMember({"reactor", "uring", "threads", "prefork"});
  const auto levels = CLI::IsMember({"debug", "info", "warn", "error", "off"});

  // --- serve ---
  core::ServeConfig cfg;
  std::string listen = "127.0.0.1:8080", engine = "uring", level = "info";
  cfg.root = "www";
  cfg.workers = cores;
  auto* serve_cmd = app.add_subcommand("serve", "Serve static files over HTTP/1.1");
  serve_cmd
      ->add_option("--engine", engine,
                   "uring (io_uring; the reactor where unavailable) | reactor | threads (a thread per "
                   "connection) | prefork (a pool of --workers processes)")
      ->check(engines)
      ->capture_default_str();
  serve_cmd->add_option("--listen", listen, "HOST:PORT or [V6]:PORT (port 0: any)")->capture_default_str();
  serve_cmd->add_option("--root", cfg.root, "document root")->capture_default_str();
  serve_cmd->add_option("--workers", cfg.workers, "worker threads (default: cores)")->check(CLI::Range(1u, 1024u));
  serve_cmd->add_option("--max-conns", cfg.max_conns, "open connections at most, over all workers")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10000000}))
      ->capture_default_str();
  serve_cmd->add_option("--idle-timeout", cfg.idle_timeout_s, "seconds a keep-alive connection may idle")
      ->check(CLI::Range(1u, 86400u))
      ->capture_default_str();
  serve_cmd->add_option("--header-timeout", cfg.header_timeout_s, "seconds to receive a request head")
      ->check(CLI::Range(1u, 86400u))
      ->capture_default_str();
  serve_cmd->add_option("--body-timeout", cfg.body_timeout_s, "seconds a request body may pause between two reads")
      ->check(CLI::Range(1u, 86400u))
      ->capture_default_str();
  serve_cmd->add_option("--access-log", cfg.access_log, "FILE, or - for stdout (combined format; off by default)");
  serve_cmd->add_option("--log-level", level, "debug | info | warn | error | off")
      ->check(levels)
      ->capture_default_str();
  serve_cmd->add_option("--cache-max-file", cfg.cache.max_file, "bytes: files up to this are cached whole")
      ->check(CLI::Range(uint64_t{0}, uint64_t{64} << 20))
      ->capture_default_str();
  serve_cmd
      ->add_option("--cache-max-bytes", cfg.cache.max_bytes,
                   "bytes of cached files per worker (least recently used go first)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 40))
      ->capture_default_str();
  serve_cmd
      ->add_option(
          "--ring-buffers", cfg.ring_buffers,
          "uring only (the reactor ignores it): 1 KiB receive buffers per worker, rounded up to a power of two")
      ->check(CLI::Range(1u, 32768u))
      ->capture_default_str();
  serve_cmd
      ->add_option("--busy-poll", cfg.busy_poll_us,
                   "event engines: microseconds a worker keeps polling after work before it sleeps (lower latency "
                   "on VMs, where waking an idle core is slow; costs CPU); 0 = off")
      ->check(CLI::Range(0u, 1000000u))
      ->capture_default_str();
  serve_cmd
      ->add_option("--ring-cq", cfg.ring_cq_entries,
                   "uring only (the reactor ignores it): completion queue entries per worker (a power of two)")
      ->check(CLI::Range(16u, 65536u))
      ->capture_default_str();

  // --- lb ---
  lb::LbConfig lbc;
  lbc.workers = cores;
  std::string lb_listen, lb_engine = "uring", lb_level = "info", policy = "roundrobin";
  std::vector<std::string> backend_args;
  double connect_timeout = 2, idle_timeout = 60, health_interval = 2;
  auto* lb_cmd = app.add_subcommand("lb", "Balance TCP connections over backends (splice relay)");
  lb_cmd->add_option("--listen", lb_listen, "HOST:PORT or [V6]:PORT to accept clients on")->required();
  auto* backend_opt = lb_cmd->add_option("--backend", backend_args, "HOST:PORT[,weight=N], repeatable");
  auto* file_opt = lb_cmd->add_option("--backends", lbc.backends_file,
                                      "FILE: one 'HOST:PORT [weight]' per line, # comments; re-read on SIGHUP");
  backend_opt->excludes(file_opt);
  lb_cmd->add_option("--policy", policy, "roundrobin | leastconn | maglev")
      ->check(CLI::IsMember({"roundrobin", "leastconn", "maglev"}))
      ->capture_default_str();
  lb_cmd->add_option("--engine", lb_engine, "uring (io_uring; the reactor where unavailable) | reactor")
      ->check(engines)
      ->capture_default_str();
  lb_cmd->add_option("--workers", lbc.workers, "worker threads (default: cores)")->check(CLI::Range(1u, 1024u));
  lb_cmd->add_option("--max-conns", lbc.max_conns, "client connections at most, over all workers")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10000000}))
      ->capture_default_str();
  lb_cmd->add_option("--connect-timeout", connect_timeout, "seconds for a backend connect (fractions allowed)")
      ->check(CLI::Range(0.001, 3600.0))
      ->capture_default_str();
  lb_cmd->add_option("--idle-timeout", idle_timeout, "seconds a relay may move no byte either way")
      ->check(CLI::Range(0.001, 86400.0))
      ->capture_default_str();
  lb_cmd->add_option("--health-interval", health_interval, "seconds between health checks of each backend")
      ->check(CLI::Range(0.01, 3600.0))
      ->capture_default_str();
  lb_cmd->add_option("--rise", lbc.rise, "successful checks in a row that bring a backend up")
      ->check(CLI::Range(1u, 100u))
      ->capture_default_str();
  lb_cmd->add_option("--fall", lbc.fall, "failed checks or connects in a row that take a backend down")
      ->check(CLI::Range(1u, 100u))
      ->capture_default_str();
  lb_cmd->add_flag("--log-connections", lbc.relay.log_connections,
                   "one line per relayed connection, and one at its end");
  lb_cmd->add_option("--log-level", lb_level, "debug | info | warn | error | off")
      ->check(levels)
      ->capture_default_str();
  lb_cmd->add_option("--ring-buffers", lbc.ring_buffers, "uring only: provided buffers per worker")
      ->check(CLI::Range(1u, 32768u));
  lb_cmd->add_option("--ring-cq", lbc.ring_cq_entries, "uring only: completion queue entries per worker")
      ->check(CLI::Range(16u, 65536u));
  lb_cmd
      ->add_option("--busy-poll", lbc.busy_poll_us,
                   "microseconds a worker keeps polling after work before it sleeps (see serve --help); 0 = off")
      ->check(CLI::Range(0u, 1000000u))
      ->capture_default_str();
  std::string uring_relay = lb::kUringRelayNames[0];
  lb_cmd
      ->add_option("--uring-relay", uring_relay,
                   "uring only: how a relay moves bytes: poll (a multishot poll, then splice(2) from the loop) | "
                   "splice (IORING_OP_SPLICE through a pipe) | recv (multishot receive into provided buffers, then "
                   "send)")
      ->check(CLI::IsMember(std::vector<std::string>(std::begin(lb::kUringRelayNames), std::end(lb::kUringRelayNames))))
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (serve_cmd->parsed()) {
    auto ep = core::parse_endpoint(listen);
    if (!ep) die(ep.error());
    cfg.listen = *ep;
    // CLI11 has checked both against their lists already.
    if (!core::parse_engine(engine, cfg.engine)) die(fmt::format("unknown engine '{}'", engine));
    if (!core::parse_log_level(level, cfg.log_level)) die(fmt::format("unknown log level '{}'", level));
    return serve(cfg);
  }

  auto ep = core::parse_endpoint(lb_listen);
  if (!ep) die(ep.error());
  lbc.listen = *ep;
  if (!core::parse_engine(lb_engine, lbc.engine)) die(fmt::format("unknown engine '{}'", lb_engine));
  if (!core::parse_log_level(lb_level, lbc.log_level)) die(fmt::format("unknown log level '{}'", lb_level));
  if (!lb::parse_policy(policy, lbc.policy)) die(fmt::format("unknown policy '{}'", policy));
  if (!lbc.backends_file.empty()) {
    auto specs = lb::parse_backends_file(lbc.backends_file);
    if (!specs) die(specs.error());
    lbc.backends = std::move(*specs);
  } else {
    for (const std::string& arg : backend_args) {
      auto spec = lb::parse_backend_arg(arg);
      if (!spec) die(fmt::format("--backend '{}': {}", arg, spec.error()));
      lbc.backends.push_back(std::move(*spec));
    }
  }
  if (lbc.backends.empty()) die("no backends: give --backend HOST:PORT (repeatable) or --backends FILE");
  // CLI11 has checked it against the names.
  for (size_t i = 0; i < std::size(lb::kUringRelayNames); ++i)
    if (uring_relay == lb::kUringRelayNames[i]) lbc.relay.uring_relay = static_cast<lb::UringRelay>(i);
  lbc.relay.connect_timeout_ms = to_ms(connect_timeout);
  lbc.relay.idle_timeout_ms = to_ms(idle_timeout);
  lbc.health_interval_ms = to_ms(health_interval);
  return balance(lbc);
}
