# Thin wrapper: setup installs missing Debian packages, then CMake does the work.
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS ?= $(shell nproc)
ARGS ?=
BENCH_ARGS ?=

.PHONY: setup build run run-lb test test-asan test-tsan bench clean

setup:
	@bash scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Starts the server on 127.0.0.1:8080 with the bundled site.
run: build
	$(BUILD)/ringwire serve --listen 127.0.0.1:8080 --root www $(ARGS)

# Four `ringwire serve` backends on 127.0.0.1:9002-9005 and `ringwire lb
# --log-connections` on 127.0.0.1:44444 in front; ARGS go to the balancer.
# Ctrl-C stops all five.
run-lb: build
	@bash scripts/run-lb.sh $(BUILD)/ringwire $(ARGS)

# Every test, in the Release build and in an ASan+UBSan build; the
# multi-threaded parts (the threads engine, the shared balancer) under TSan.
test: build
	@cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 300
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory test-tsan

test-asan: setup
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DRINGWIRE_SANITIZE=ON -DRINGWIRE_PERF=OFF >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ctest --output-on-failure -j 2 --timeout 300

test-tsan: setup
	@cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DRINGWIRE_TSAN=ON -DRINGWIRE_PERF=OFF >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS)
	@cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -j 2 --timeout 300 -R 'threads|Threads|Stress|Baseline'

# The seeds' sweep (perf/sweep): every engine alone and behind `ringwire lb`,
# nginx and HAProxy as peers; results in bench-results/<timestamp>/.
# QUICK=1: a two-point grid over a few configurations, in well under a minute.
# ROUNDS=N: every configuration N times, the order rotated each round; the
# tables give the median and the [min-max] range (default 1: full grid < 15 min).
# SCHED=normal: the server processes under the default policy instead of
# SCHED_BATCH (perf/sweep --sched).
bench: build
	@perf/sweep --binary $(BUILD)/ringwire $(if $(QUICK),--quick) $(if $(ROUNDS),--rounds $(ROUNDS)) $(if $(SCHED),--sched $(SCHED)) $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
