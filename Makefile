# Convenience targets around CMake. `make run` and `make test` work on a fresh Debian machine.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all setup build run test test-slow test-sanitize bench clean format check-format

all: build

setup:
	@scripts/setup.sh

$(BUILD)/CMakeCache.txt:
	@scripts/setup.sh
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The main job.
run: build
	$(BUILD)/hegraph demo

# Unit and end-to-end tests (fast, insecure test parameters where named so).
test: build
	ctest --test-dir $(BUILD) -L 'unit|e2e' --output-on-failure -j $(JOBS)

# The slower suite on real 128-bit parameters.
test-slow: build
	ctest --test-dir $(BUILD) -L slow --output-on-failure

# Unit tests under AddressSanitizer and UndefinedBehaviorSanitizer.
test-sanitize:
	@scripts/setup.sh
	cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHG_SANITIZE=ON \
	  -DHG_BUILD_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD)-asan -j $(JOBS)
	ctest --test-dir $(BUILD)-asan -L unit --output-on-failure -j $(JOBS)

bench: build
	$(BUILD)/bench/bench_ckks

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

check-format:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD)-asan
