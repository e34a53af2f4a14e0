#pragma once

#include "core/config.h"
#include "core/engine.h"

namespace ringwire::app {

// HttpService is `ringwire serve` as a core::Service: each worker loop gets
// an HttpAcceptor (and with it an HttpWorker: file cache, access log, pools).
class HttpService final : public core::Service {
 public:
  // `root_fd` and `access_log_fd` (-1: off) are borrowed for the service's life.
  HttpService(const core::ServeConfig& config, int root_fd, int access_log_fd) noexcept
      : config_(config), root_fd_(root_fd), access_log_fd_(access_log_fd) {}

  std::array<int64_t, core::kTimerKinds> timeouts() const override;
  uint64_t max_conns() const override { return config_.max_conns; }
  std::unique_ptr<reactor::Acceptor> make_acceptor(reactor::Loop& loop, const core::Clock& clock) const override;
  std::unique_ptr<proactor::Acceptor> make_acceptor(proactor::Loop& loop, const core::Clock& clock) const override;

  // For the blocking engines, which serve HTTP without the loops.
  const core::ServeConfig& config() const noexcept { return config_; }
  int root_fd() const noexcept { return root_fd_; }
  int access_log_fd() const noexcept { return access_log_fd_; }

 private:
  const core::ServeConfig& config_;
  int root_fd_;
  int access_log_fd_;
};

}  // namespace ringwire::app
