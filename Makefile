# Shortcuts for developers; the scripts in scripts/ are what the README and CI use.
.PHONY: all run test test-slow test-sanitize bench format check-format clean fuzz fuzz-smoke valgrind
all:
	scripts/build.sh build
run:
	scripts/run.sh
test:
	scripts/test.sh
test-slow:
	scripts/test.sh --slow
test-sanitize:
	scripts/test.sh --sanitize
# FUZZ_SECONDS per harness (scripts/fuzz.sh; fuzz/README.md).
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 1
fuzz:
	scripts/fuzz.sh --seconds $(FUZZ_SECONDS) --jobs $(FUZZ_JOBS)
fuzz-smoke:
	scripts/fuzz.sh --smoke
valgrind:
	scripts/valgrind.sh
bench: all
	build/bench/bench_ckks
format:
	clang-format -i $$(git ls-files '*.c' '*.h')
check-format:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')
clean:
	rm -rf build build-asan build-fuzz build-valgrind
