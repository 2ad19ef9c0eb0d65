# Shortcuts for developers; the scripts in scripts/ are what the README and CI use.
.PHONY: all run test test-slow test-sanitize bench format check-format clean
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
bench: all
	build/bench/bench_ckks
format:
	clang-format -i $$(git ls-files '*.c' '*.h')
check-format:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')
clean:
	rm -rf build build-asan
