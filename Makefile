# Thin wrapper: setup installs missing Debian packages, then CMake does the work.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
ARGS ?=

.PHONY: setup build run run-lb test test-asan bench clean

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

# Every test, in the Release build and in an ASan+UBSan build.
test: build
	@cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 300
	@$(MAKE) --no-print-directory test-asan

test-asan: setup
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DRINGWIRE_SANITIZE=ON -DRINGWIRE_PERF=OFF >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ctest --output-on-failure -j 2 --timeout 300

bench: build
	@ls $(BUILD)/perf

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
