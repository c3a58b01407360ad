# sfaasd: one binary, plain Makefile. See README.md.
#   make          build ./sfaasd
#   make run      install deps, build, serve on 127.0.0.1:8080 with ./.sfaasd-data
#   make test     install deps, build, run every test tier; last line "N passed, N failed"
#   make asan     the whole suite under ASan + UBSan
#   make bench    benchmarks against the peers (not part of make test)

PYTHON   := /usr/bin/python3
BUILD    ?= build
CC       ?= cc
VERSION  := 0.1.0
GIT_SHA  := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

DEB_BUILD := build-essential pkg-config libuv1-dev node-llhttp libseccomp-dev \
             libsqlite3-dev libssl-dev libjansson-dev libarchive-dev \
             zlib1g-dev libzstd-dev liblzma-dev libbz2-dev liblz4-dev libcmocka-dev \
             libjs-chart.js
# prometheus: for promtool (tests/integration/test_metrics.py); 19 MB, 12.5 s to
# install here. On a systemd host the package also enables its server on :9090.
# chromium, chromium-driver, python3-selenium: the web console's browser tests
# (tests/browser), headless against the real daemon.
# openssl: the command that makes the test CA and certificates (test_tls.py).
# podman, containerd: the OCI runtime's engine tests (tests/integration/
# test_oci_engines.py, tests/probes/test_oci_probes.py) drive sfaasd-runc
# through Debian's Podman (conmon) and containerd (ctr, runc shim v2).
# docker-registry (the reference distribution server), apache2-utils (htpasswd)
# and python3-cryptography (the token server's signed JWTs): the registry pull
# tests (tests/integration/test_registry.py) run a real registry on loopback.
DEB_TEST := python3-pytest python3-requests busybox-static umoci skopeo iproute2 curl prometheus \
            chromium chromium-driver python3-selenium openssl podman containerd docker-registry \
            apache2-utils python3-cryptography
DEB_BENCH := crun runc runsc bubblewrap hyperfine wrk nginx docker-registry skopeo umoci

LLHTTP_DIR := /usr/share/llhttp
LLHTTP_INC := /usr/share/include/llhttp

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla \
        -Wno-unused-parameter
HARDEN := -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fPIE -fstack-clash-protection -fcf-protection
OPT ?= -O2 -g
PKGCFLAGS = $(shell pkg-config --cflags libuv libseccomp sqlite3 libssl libcrypto jansson libarchive 2>/dev/null)
PKGLIBS   = $(shell pkg-config --libs libuv libseccomp sqlite3 libssl libcrypto jansson 2>/dev/null)
# Static by default: libssl and libcrypto (TLS: core/http/tls.c, the client),
# SQLite, jansson and libarchive are linked
# into the binary; libuv (Debian ships no libuv.a), the decompressors and libc
# stay shared. Every subcommand, 'sfaasd run' included, otherwise pays the
# dynamic loader for libraries it does not use: 2.6 ms -> 1.4 ms for a start
# of the binary here, and the shared libarchive alone would load libxml2, ICU,
# nettle and acl. The price: a security update of those four libraries needs
# a rebuild of sfaasd (as with the Go-built faasd, containerd and runc).
# STATIC_DEPS=0 links them shared.
STATIC_DEPS ?= 1
ifeq ($(STATIC_DEPS),1)
BIN_LIBS = $(shell pkg-config --libs libuv 2>/dev/null) \
           -Wl,-Bstatic -lssl -lcrypto -lsqlite3 -ljansson -larchive -lseccomp -Wl,-Bdynamic \
           -lz -lzstd -llzma -lbz2 -llz4 -lpthread -ldl -lm
else
BIN_LIBS = $(PKGLIBS) $(shell pkg-config --libs libarchive 2>/dev/null)
endif
CFLAGS  += -std=gnu11 $(OPT) $(WARN) $(HARDEN) -D_GNU_SOURCE -DSFAASD_VERSION='"$(VERSION)"' \
           -DSFAASD_GIT_SHA='"$(GIT_SHA)"' -I. -I$(LLHTTP_INC) $(PKGCFLAGS) -MMD -MP $(EXTRA_CFLAGS)
# --gc-sections: libarchive.a is built with a section per function; its tar
# writer (the client's directory upload) then links without the xar and zip
# writers' libxml2 and nettle references.
LDFLAGS += -pie -Wl,-z,relro,-z,now -Wl,--as-needed -Wl,--gc-sections $(EXTRA_LDFLAGS)
LDLIBS  += $(BIN_LIBS)
# Unit tests also write archives (fixtures made in C), which needs the whole
# shared libarchive; the product binary only reads them.
TEST_LDLIBS = $(PKGLIBS) $(shell pkg-config --libs libarchive) -lcmocka

BASE_SRC    := $(wildcard core/base/*.c)
CORE_SRC    := $(filter-out $(BASE_SRC),$(wildcard core/*/*.c))
SANDBOX_SRC := $(wildcard sandbox/*.c)
STORE_SRC   := $(wildcard store/*.c)
CMD_SRC     := $(wildcard cmd/*.c)
# Chart.js as Debian packages it (libjs-chart.js), embedded like the rest of
# the console: no CDN, nothing fetched at run time.
CHARTJS     := /usr/share/javascript/chart.js/chart.min.js
WEB_FILES   := $(sort $(wildcard web/*.html web/*.css web/*.js web/*.svg)) $(CHARTJS)
LIB_SRC     := $(BASE_SRC) $(CORE_SRC) $(SANDBOX_SRC) $(STORE_SRC)
LIB_OBJ     := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/web_assets.o $(BUILD)/seccomp_policy.o \
               $(BUILD)/init_image.o
LLHTTP_OBJ  := $(BUILD)/llhttp/llhttp.o $(BUILD)/llhttp/api.o $(BUILD)/llhttp/http.o
CMD_OBJ     := $(CMD_SRC:%.c=$(BUILD)/%.o)

UNIT_SRC    := $(wildcard tests/unit/test_*.c)
UNIT_BIN    := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Fuzz harnesses (tests/fuzz/fuzz_*.c): `make test` links each with
# replay_main.c and replays its saved corpus; `make fuzz` links it with
# libFuzzer. They need only the image store and core/base.
FUZZ_SRC    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN    := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/%)
FUZZ_OBJ     = $(patsubst %.c,$(BUILD)/%.o,$(wildcard store/image*.c) $(BASE_SRC))

.DEFAULT_GOAL := all

fixtures:
	@bash tests/fixtures/mkimages.sh tests/fixtures/out

.PHONY: all fixtures deps deps-bench run test test-unit test-integration asan lint layers bench install clean format fuzz
all: sfaasd

sfaasd: $(CMD_OBJ) $(LIB_OBJ) $(LLHTTP_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# llhttp is generated C; compile it as shipped, without our warning set.
$(BUILD)/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(OPT) $(HARDEN) -I$(LLHTTP_INC) $(EXTRA_CFLAGS) -c -o $@ $<

# The web UI is embedded at build time (see web/embed.py).
$(BUILD)/web_assets.c: web/embed.py $(WEB_FILES)
	@mkdir -p $(dir $@)
	$(PYTHON) web/embed.py $@ $(WEB_FILES)
$(CHARTJS):
	@echo "$@ is missing: install Debian's libjs-chart.js (make deps)" >&2; exit 1
$(BUILD)/web_assets.o: $(BUILD)/web_assets.c
	$(CC) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<

# The seccomp policy is compiled once, here, for the build machine's
# architecture (sandbox/seccomp.c explains); sfaasd never calls libseccomp.
SECCOMP_GEN_OBJ := $(BUILD)/sandbox/policy/seccomp.o $(BUILD)/core/base/error.o
$(BUILD)/tools/gen_seccomp: tools/gen_seccomp.c $(SECCOMP_GEN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) -lseccomp
$(BUILD)/seccomp_policy.c: $(BUILD)/tools/gen_seccomp
	$(BUILD)/tools/gen_seccomp $@
$(BUILD)/seccomp_policy.o: $(BUILD)/seccomp_policy.c
	$(CC) $(CFLAGS) -c -o $@ $<
# The sandbox init (sandbox/init/sfaasd-init.c says why it exists): pid 1 of
# every sandbox, a freestanding static PIE without libc, a few KiB. It gets
# flags of its own, never CFLAGS/EXTRA_CFLAGS: no stack protector (no TLS
# holds a canary), no sanitizer (nothing links their runtime), no
# _FORTIFY_SOURCE (no libc to fortify). Then it is embedded into sfaasd as
# bytes (tools/embed_blob.py), as the web assets are; the launcher copies
# them into a sealed memfd at start. No loader ever applies a relocation to
# it, so the build refuses a binary that has one.
INIT_CFLAGS  := -std=gnu11 -Os -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
                -Wvla -ffreestanding -fno-builtin -fno-stack-protector -fno-asynchronous-unwind-tables \
                -fno-unwind-tables -fcf-protection -fPIE -I. -MMD -MP
INIT_LDFLAGS := -static-pie -nostdlib -s -Wl,-z,noexecstack -Wl,-z,noseparate-code -Wl,--build-id=none
$(BUILD)/sandbox/init/sfaasd-init: sandbox/init/sfaasd-init.c
	@mkdir -p $(dir $@)
	$(CC) $(INIT_CFLAGS) $(INIT_LDFLAGS) -o $@ $<
	@if readelf -r $@ | grep -q 'Relocation section'; then \
	  echo "$@: has relocations, which nothing would apply"; rm -f $@; exit 1; fi
$(BUILD)/init_image.c: tools/embed_blob.py $(BUILD)/sandbox/init/sfaasd-init
	$(PYTHON) tools/embed_blob.py $@ sb_init_image $(BUILD)/sandbox/init/sfaasd-init
$(BUILD)/init_image.o: $(BUILD)/init_image.c
	$(CC) $(CFLAGS) -c -o $@ $<

# The sandbox test checks the generated program against a fresh compile.
$(BUILD)/tests/test_sandbox: $(SECCOMP_GEN_OBJ)
$(BUILD)/tests/test_sandbox: TEST_LDLIBS += -lseccomp

# Unit tests link the library objects (not cmd/) plus cmocka. Only the test's
# own .c is compiled: a source it #includes shows up in $^ through its .d file.
$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIB_OBJ) $(LLHTTP_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter tests/unit/%.c %.o,$^) $(TEST_LDLIBS)

# The client's pure helpers live in cmd/ but are unit-tested. The test
# #includes core/http/client.c (to reach its static helpers), so its object
# is left out of the link.
$(BUILD)/tests/test_client: tests/unit/test_client.c $(filter-out $(BUILD)/core/http/client.o,$(LIB_OBJ)) \
		$(LLHTTP_OBJ) $(BUILD)/cmd/client_util.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter tests/unit/%.c %.o,$^) $(TEST_LDLIBS)

$(BUILD)/tests/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(PKGLIBS) $(shell pkg-config --libs libarchive)

# libFuzzer builds (clang), in their own tree; not part of make test.
#   make fuzz                      build build-fuzz/fuzz/fuzz_*
#   build-fuzz/fuzz/fuzz_image_import -max_len=200000 tests/fuzz/corpus/image_import
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
            -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
fuzz:
	@command -v clang >/dev/null && ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null; }
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT='-O1 -g -fno-omit-frame-pointer' \
	    EXTRA_CFLAGS='$(FUZZ_SAN) -U_FORTIFY_SOURCE -Wno-error' \
	    $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/fuzz/%)
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $(filter %.c %.o,$^) \
	    $(PKGLIBS) $(shell pkg-config --libs libarchive)

# Installs only what is missing; silent and quick when everything is there.
deps:
	@missing=$$(dpkg-query -W -f='$${Package} $${db:Status-Abbrev}\n' $(DEB_BUILD) $(DEB_TEST) 2>/dev/null \
	    | awk '$$2 != "ii" {print $$1}'; \
	  for p in $(DEB_BUILD) $(DEB_TEST); do dpkg-query -W $$p >/dev/null 2>&1 || echo $$p; done | sort -u); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

deps-bench: deps
	@missing=$$(for p in $(DEB_BENCH); do dpkg-query -W -f='$${db:Status-Abbrev}' $$p 2>/dev/null | grep -q '^ii' || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi

run: deps
	@$(MAKE) --no-print-directory sfaasd
	./sfaasd serve --listen 127.0.0.1:8080 --data ./.sfaasd-data

test: deps
	@$(MAKE) --no-print-directory sfaasd $(UNIT_BIN) $(FUZZ_BIN)
	@$(MAKE) --no-print-directory lint layers
	@SFAASD_BIN=$(CURDIR)/sfaasd BUILD=$(BUILD) PYTHON=$(PYTHON) bash tests/run-all.sh

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT='-O1 -g -fno-omit-frame-pointer' \
	    EXTRA_CFLAGS='-fsanitize=address,undefined -fno-sanitize-recover=undefined -U_FORTIFY_SOURCE' \
	    EXTRA_LDFLAGS='-fsanitize=address,undefined' test-asan-inner

test-asan-inner:
	@$(MAKE) --no-print-directory sfaasd-asan $(UNIT_BIN) $(FUZZ_BIN)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  SFAASD_BIN=$(CURDIR)/sfaasd-asan BUILD=$(BUILD) PYTHON=$(PYTHON) SFAASD_ASAN=1 bash tests/run-all.sh

sfaasd-asan: $(CMD_OBJ) $(LIB_OBJ) $(LLHTTP_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The layer order of tools/layers.txt, checked on the built objects: no file
# uses a higher layer, no circle of more than two files (README "What runs where").
layers: sfaasd
	@$(PYTHON) tools/layers.py $(BUILD)

# Forbidden calls (STYLE.md rule 10).
lint:
	@bad=$$(grep -nE '\b(sprintf|strcpy|strcat|gets|atoi|atol|strtok|system|popen)\s*\(|\bsignal\(' \
	    $(LIB_SRC) $(CMD_SRC) $(wildcard */*.h core/*/*.h) | grep -v 'snprintf\|vsnprintf' || true); \
	if [ -n "$$bad" ]; then echo "lint: forbidden calls:"; echo "$$bad"; exit 1; fi

bench: deps-bench sfaasd
	@bash bench/run-all.sh

install: sfaasd
	install -D -m 0755 sfaasd $(DESTDIR)/usr/bin/sfaasd
	ln -sf sfaasd $(DESTDIR)/usr/bin/sfaasd-runc
	install -D -m 0644 packaging/oci/sfaasd-runc.conf $(DESTDIR)/etc/containers/containers.conf.d/sfaasd-runc.conf
	install -D -m 0644 packaging/sfaasd.service $(DESTDIR)/lib/systemd/system/sfaasd.service
	test -e $(DESTDIR)/etc/sfaasd/config.json || install -D -m 0644 packaging/config.json $(DESTDIR)/etc/sfaasd/config.json

format:
	clang-format -i $(LIB_SRC) $(CMD_SRC) $(wildcard */*.h core/*/*.h)

clean:
	rm -rf build build-asan sfaasd sfaasd-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
