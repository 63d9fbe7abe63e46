# kiln: the two set-up commands are `make demo` and `make test` (see README.md).
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
FUZZ_SECONDS ?= 20
PREFIX ?= /usr/local

.PHONY: all build deps demo test peers clean asan tsan fuzz install python

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# The Python module (docs/python.md): $(BUILD)/python/kiln, used with PYTHONPATH=$(BUILD)/python.
python: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target kiln_python

# ONNX Runtime and the JavaScript tokenizers library as peers (npm; CI fails when unreachable, a local run skips loudly).
peers:
	@scripts/install-peers $(BUILD)/peers

demo: deps build
	@scripts/demo $(BUILD)

test: deps build peers
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Address + undefined-behaviour sanitizers over the same tests.
asan: deps
	$(MAKE) build BUILD=build-asan CMAKE_FLAGS="-DKILN_SANITIZE=ON -DKILN_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo"
	cd build-asan && ctest --output-on-failure -j $(JOBS)

# ThreadSanitizer over the tests that run one session from several threads (scripts/tsan).
tsan: deps
	@scripts/tsan

# libFuzzer targets (clang), each run for FUZZ_SECONDS.
fuzz: deps
	@scripts/fuzz $(FUZZ_SECONDS)

# libkiln (shared and static), include/kiln, the CMake package config, kiln.pc and the kiln command
# under PREFIX (default /usr/local): make install PREFIX=~/.local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD)
