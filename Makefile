# The two commands of README.md, wrapping meson (DESIGN.md "Dependencies").
#   make run   install what is missing, build, run a demo server on 127.0.0.1
#   make test  install what is missing, build with ASan/UBSan, run every test
BUILD      ?= build
TEST_BUILD ?= build-test
PYTEST     := /usr/bin/python3 -m pytest

.PHONY: all build run test unit integration bench clean

all: build

build:
	@tools/install-deps.sh build
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) >/dev/null
	ninja -C $(BUILD)

run: build
	@tools/demo.sh $(BUILD)/tlsmta

# Tests run against a sanitizer build (engineering standards: ASan/UBSan in
# CI); the integration suite uses that same binary.
$(TEST_BUILD)/build.ninja:
	meson setup $(TEST_BUILD) -Db_sanitize=address,undefined \
	    -Db_lundef=false >/dev/null

test:
	@tools/install-deps.sh test
	@$(MAKE) --no-print-directory $(TEST_BUILD)/build.ninja
	ninja -C $(TEST_BUILD)
	meson test -C $(TEST_BUILD) --suite unit --print-errorlogs
	TLSMTA_BIN=$(CURDIR)/$(TEST_BUILD)/tlsmta $(PYTEST) -q tests/integration

unit:
	ninja -C $(TEST_BUILD) && meson test -C $(TEST_BUILD) --suite unit --print-errorlogs

integration:
	TLSMTA_BIN=$(CURDIR)/$(TEST_BUILD)/tlsmta $(PYTEST) -q tests/integration

bench: build
	bench/run.sh $(BUILD)/tlsmta

clean:
	rm -rf $(BUILD) $(TEST_BUILD)
