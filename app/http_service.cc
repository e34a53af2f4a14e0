#include "app/http_service.h"

#include "core/http_worker.h"
#include "proactor/http_handler.h"
#include "reactor/http_handler.h"

namespace ringwire::app {

std::array<int64_t, core::kTimerKinds> HttpService::timeouts() const {
  return core::HttpWorker::timeouts(config_);
}

std::unique_ptr<reactor::Acceptor> HttpService::make_acceptor(reactor::Loop& loop, const core::Clock& clock) const {
  return std::make_unique<reactor::HttpAcceptor>(loop, config_, clock, root_fd_, access_log_fd_);
}

std::unique_ptr<proactor::Acceptor> HttpService::make_acceptor(proactor::Loop& loop, const core::Clock& clock) const {
  return std::make_unique<proactor::HttpAcceptor>(loop, config_, clock, root_fd_, access_log_fd_);
}

}  // namespace ringwire::app
