# The two set-up commands of the README:
#   make run    installs what is missing, builds, opens the demo dataset
#   make test   installs what is missing, builds, runs the whole test suite
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: run test build deps

deps:
	@./scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

run: build
	@./scripts/run-demo.sh $(BUILD)/app/batchscope

test: build
	cd $(BUILD) && ctest --output-on-failure --no-tests=error -j 1
