# The commands a newcomer types. Each installs missing Debian packages
# (when run as root), configures CMake, builds and runs.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)

.PHONY: all deps build demo test test-asan test-tsan bench install clean format

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	@./scripts/demo.sh $(BUILD)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) $(CTEST_ARGS)

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCIO_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && CIO_TEST_SCALE=0.1 ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j$(JOBS) $(CTEST_ARGS)

test-tsan: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DCIO_TSAN=ON
	cmake --build build-tsan -j$(JOBS)
	cd build-tsan && CIO_TEST_SCALE=0.1 TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -j$(JOBS) -R 'test-core|thread|log|fs' $(CTEST_ARGS)

# Builds only the benchmark programs and C peers, and what builds (-k): a
# benchmark whose program does not build is reported as missing by
# bench/run.sh rather than stopping the whole run. BENCH="W1 W6" selects.
bench: deps
	@./scripts/install-deps.sh --bench
	cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release
	@targets=$$(cmake --build build-bench --target help | grep -oE '(bench|peer)-[A-Za-z0-9_]+' | sort -u | tr '\n' ' '); \
	  cmake --build build-bench -j$(JOBS) --target $$targets -- -k || \
	  echo "bench: some programs did not build; run.sh reports them as missing"
	@./bench/run.sh build-bench $(BENCH)

install: build
	cmake --install $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-tsan build-bench
