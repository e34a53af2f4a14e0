# Thin wrapper: setup installs missing Debian packages, then CMake does the work.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
ARGS ?=
BENCH_ARGS ?=

.PHONY: setup build run test test-asan bench clean

setup:
	@bash scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Starts the server on 127.0.0.1:8080 with the bundled site.
run: build
	$(BUILD)/ringwire serve --listen 127.0.0.1:8080 --root www $(ARGS)

# Every test, in the Release build and in an ASan+UBSan build.
test: build
	@cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 300
	@$(MAKE) --no-print-directory test-asan

test-asan: setup
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DRINGWIRE_SANITIZE=ON -DRINGWIRE_PERF=OFF >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ctest --output-on-failure -j 2 --timeout 300

# The seeds' sweep (perf/sweep): every engine alone and behind `ringwire lb`,
# nginx and HAProxy as peers; results in bench-results/<timestamp>/.
# QUICK=1: a two-point grid over a few configurations, in well under a minute.
bench: build
	@perf/sweep --binary $(BUILD)/ringwire $(if $(QUICK),--quick) $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
