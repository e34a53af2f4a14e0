#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "core/fd.h"
#include "core/http_worker.h"
#include "core/socket.h"
#include "core/timer_kind.h"

namespace ringwire::baseline {

// Serves one client socket to its end with blocking syscalls: the same
// core::HttpConnection lifecycle as the event engines (parse, plan, send,
// settle), with each timeout as a receive timeout set from the deadline of
// the phase the connection is in (a head has its whole --header-timeout, as
// on the event engines, not one per read). `stopping` is checked whenever
// the connection settles; `idle` is set while it waits for a new request
// with nothing started, so that a stop can wake it (shutdown(2)) and close it.
void serve_blocking(core::HttpWorker& worker, core::Fd fd, const core::Endpoint& peer,
                    const std::array<int64_t, core::kTimerKinds>& timeouts, const std::atomic<bool>& stopping,
                    std::atomic<bool>* idle);

}  // namespace ringwire::baseline
