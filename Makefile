# Thin wrapper around Meson + Ninja. The real build description is meson.build.
BUILD     ?= build
BUILD_SAN ?= build-san

.PHONY: all deps run test test-quick bench fuzz clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD)

deps:
	scripts/install-deps.sh

# The main job: boot the test guest and show its console.
run: deps all
	scripts/run-demo.sh $(BUILD)

# The whole test suite, in a normal build and under ASan+UBSan.
test: deps
	scripts/run-tests.sh

# The same without the slow real-guest tests, for local work.
test-quick: deps
	VIREO_SKIP_SLOW=1 scripts/run-tests.sh

bench: deps all
	scripts/run-benchmarks.sh $(BUILD)

# Runs every libFuzzer target for FUZZ_SECONDS each, growing the corpus.
fuzz: deps
	scripts/run-fuzzers.sh

clean:
	rm -rf $(BUILD) $(BUILD_SAN) build-fuzz
