// ringwire: `ringwire serve` starts the HTTP server on the chosen engine.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "core/config.h"
#include "core/log.h"
#include "core/socket.h"
#include "app/http_service.h"
#include "core/engine.h"

using namespace ringwire;

namespace {

[[noreturn]] void die(const std::string& msg) {
  fmt::print(stderr, "ringwire: error: {}\n", msg);
  std::exit(2);
}

int serve(const core::ServeConfig& cfg) {
  core::set_log_level(cfg.log_level);
  if (cfg.engine == core::EngineKind::Threads || cfg.engine == core::EngineKind::Prefork)
    die(fmt::format("engine '{}' is not built yet; use --engine uring or --engine reactor",
                    core::engine_name(cfg.engine)));
  core::raise_nofile_limit();

  core::Fd root(::open(cfg.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) die(fmt::format("cannot open root '{}': {}", cfg.root, strerror(errno)));

  core::Fd access_log;
  if (cfg.access_log == "-") {
    access_log.reset(::dup(STDOUT_FILENO));
  } else if (!cfg.access_log.empty()) {
    access_log.reset(::open(cfg.access_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!access_log) die(fmt::format("cannot open access log '{}': {}", cfg.access_log, strerror(errno)));
  }

  // Signals are taken synchronously by the main thread (sigwait): workers
  // never see them. SIGPIPE is ignored so a closed peer is only an EPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  // Each worker owns a listener on the same address (SO_REUSEPORT). With
  // port 0 the first bind picks the port and the others reuse it.
  core::Endpoint ep = cfg.listen;
  std::vector<core::Fd> listeners;
  for (unsigned i = 0; i < cfg.workers; ++i) {
    auto fd = core::listen_tcp(ep, true, 4096);
    if (!fd) die(fmt::format("cannot listen on {}: {}", ep.to_string(), strerror(fd.error())));
    if (i == 0) ep = core::local_endpoint(fd->get()).value_or(ep);
    listeners.push_back(std::move(*fd));
  }

  app::HttpService service(cfg, root.get(), access_log.get());
  std::unique_ptr<core::Engine> engine;
  try {
    engine = core::make_engine(cfg.engine, service, {cfg.ring_buffers, cfg.ring_cq_entries}, std::move(listeners));
  } catch (const std::exception& e) {
    die(e.what());
  }
  engine->start();
  RW_LOG_INFO("listening on {} (engine {}, {} workers)", ep.to_string(), engine->name(), cfg.workers);
  int sig = 0;
  sigwait(&set, &sig);
  RW_LOG_INFO("{}: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
  engine->request_stop();
  engine->wait();
  RW_LOG_INFO("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ringwire: a small, fast HTTP/1.1 static file server"};
  app.set_version_flag("--version", std::string("ringwire ") + RINGWIRE_VERSION);
  app.require_subcommand(1);

  core::ServeConfig cfg;
  std::string listen = "127.0.0.1:8080", engine = "uring", level = "info";
  cfg.root = "www";
  cfg.workers = std::max(1u, std::thread::hardware_concurrency());
  auto* serve_cmd = app.add_subcommand("serve", "Serve static files over HTTP/1.1");
  serve_cmd->add_option("--engine", engine, "uring (io_uring; the reactor where unavailable) | reactor")
      ->check(CLI::IsMember({"reactor", "uring", "threads", "prefork"}))
      ->capture_default_str();
  serve_cmd->add_option("--listen", listen, "HOST:PORT or [V6]:PORT (port 0: any)")->capture_default_str();
  serve_cmd->add_option("--root", cfg.root, "document root")->capture_default_str();
  serve_cmd->add_option("--workers", cfg.workers, "worker threads (default: cores)")
      ->check(CLI::Range(1u, 1024u));
  serve_cmd->add_option("--max-conns", cfg.max_conns, "open connections at most, over all workers")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10000000}))
      ->capture_default_str();
  serve_cmd->add_option("--idle-timeout", cfg.idle_timeout_s, "seconds a keep-alive connection may idle")
      ->check(CLI::Range(1u, 86400u))
      ->capture_default_str();
  serve_cmd->add_option("--header-timeout", cfg.header_timeout_s, "seconds to receive a request head")
      ->check(CLI::Range(1u, 86400u))
      ->capture_default_str();
  serve_cmd->add_option("--body-timeout", cfg.body_timeout_s,
                        "seconds a request body may pause between two reads")
      ->check(CLI::Range(1u, 86400u))
      ->capture_default_str();
  serve_cmd->add_option("--access-log", cfg.access_log, "FILE, or - for stdout (combined format; off by default)");
  serve_cmd->add_option("--log-level", level, "debug | info | warn | error | off")
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  serve_cmd->add_option("--cache-max-file", cfg.cache.max_file, "bytes: files up to this are cached whole")
      ->check(CLI::Range(uint64_t{0}, uint64_t{64} << 20))
      ->capture_default_str();
  serve_cmd->add_option("--cache-max-bytes", cfg.cache.max_bytes,
                        "bytes of cached files per worker (least recently used go first)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 40))
      ->capture_default_str();
  serve_cmd->add_option("--ring-buffers", cfg.ring_buffers,
                        "uring only (the reactor ignores it): 1 KiB receive buffers per worker, rounded up to a power of two")
      ->check(CLI::Range(1u, 32768u))
      ->capture_default_str();

  serve_cmd->add_option("--ring-cq", cfg.ring_cq_entries,
                        "uring only (the reactor ignores it): completion queue entries per worker (a power of two)")
      ->check(CLI::Range(16u, 65536u))
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  auto ep = core::parse_endpoint(listen);
  if (!ep) die(ep.error());
  cfg.listen = *ep;
  // CLI11 has checked both against their lists already.
  if (!core::parse_engine(engine, cfg.engine)) die(fmt::format("unknown engine '{}'", engine));
  if (!core::parse_log_level(level, cfg.log_level)) die(fmt::format("unknown log level '{}'", level));
  if (serve_cmd->parsed()) return serve(cfg);
  return 0;
}
