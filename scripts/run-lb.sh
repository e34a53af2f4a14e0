#!/usr/bin/env bash
# The course topology in one command: four `ringwire serve` backends on
# 127.0.0.1:9002-9005 (root www/) and `ringwire lb --log-connections` on
# 127.0.0.1:44444 in front of them. Ctrl-C (or TERM) stops all five, by pid.
#   usage: scripts/run-lb.sh [BINARY]   (make run-lb; ARGS go to ringwire lb)
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/ringwire}
shift || true
[ -x "$bin" ] || { echo "build first: make build" >&2; exit 1; }

pids=()
stopping=0
cleanup() {
  ((stopping)) && return
  stopping=1
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
# Ctrl-C reaches the whole foreground process group, so the children see SIGINT
# too; the trap still TERMs them in case it came from elsewhere (kill PID).
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

backends=()
for port in 9002 9003 9004 9005; do
  "$bin" serve --listen "127.0.0.1:$port" --root www &
  pids+=($!)
  backends+=(--backend "127.0.0.1:$port")
done
"$bin" lb --log-connections --listen 127.0.0.1:44444 "${backends[@]}" "$@" &
pids+=($!)

# If any of the five ends on its own (port taken, bad ARGS), stop the rest.
wait -n
status=$?
echo "run-lb: a process exited (status $status); stopping the others" >&2
# 44444 and 9002-9005 lie in the ephemeral port range: a client socket of another
# program (or its TIME_WAIT, left by a load test) can hold one for a minute.
echo "run-lb: if a port was in use, 'ss -tanp | grep PORT' shows by whom" >&2
exit "$status"
