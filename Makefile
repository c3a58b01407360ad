# sfaasd: one binary, plain Makefile. See README.md.
#   make               build ./sfaasd
#   make run           install what the build needs, build, serve on 127.0.0.1:8080 with ./.sfaasd-data
#   make test          install the test tools, build, run every test tier; last line "N passed, N failed"
#   make asan          the whole suite under ASan + UBSan
#   make deb           ./sfaasd_VERSION_ARCH.deb and its -dbgsym package (debian/, dpkg-buildpackage)
#   make test-package  the .deb installed, upgraded from 0.1.0 and purged in a throwaway bookworm root, and lintian
#   make test-service  the daemon's tests and the probes under packaging/sfaasd.service's settings, without systemd
#   make install       binary, unit, config, man page, bash completion (make uninstall takes them back)
#   make bench         benchmarks against the peers (not part of make test)

PYTHON   := /usr/bin/python3
BUILD    ?= build
CC       ?= cc
# The package's version too (debian/changelog; tests/package checks they agree).
VERSION  := 0.2.0
GIT_SHA  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

# make run: what the build and the daemon need, nothing more.
DEB_BUILD := build-essential pkg-config python3 libuv1-dev node-llhttp libseccomp-dev \
             libsqlite3-dev libssl-dev libjansson-dev libarchive-dev \
             zlib1g-dev libzstd-dev liblzma-dev libbz2-dev liblz4-dev libjs-chart.js
# make fixtures: the images of the README's first steps and of the tests.
DEB_FIXTURES := busybox-static umoci skopeo
# make test: the test tiers and the package test.
# prometheus: for promtool (tests/integration/test_metrics.py); 19 MB, 12.5 s to
# install here. On a systemd host the package also enables its server on :9090,
# which is why make run does not install it.
# chromium, chromium-driver, python3-selenium: the web console's browser tests
# (tests/browser), headless against the real daemon.
# openssl: the command that makes the test CA and certificates (test_tls.py).
# debhelper, lintian: make deb and its check; mmdebstrap: the throwaway bookworm
# root of tests/package (16 s for a root here, from the host's apt sources);
# systemd: systemd-analyze, which tests/service/as-unit.sh and the package test use;
# bash-completion: tests/integration/test_completion.py.
# podman, containerd: the OCI runtime's engine tests (tests/integration/
# test_oci_engines.py, tests/probes/test_oci_probes.py) drive sfaasd-runc
# through Debian's Podman (conmon) and containerd (ctr, runc shim v2).
# docker-registry (the reference distribution server), apache2-utils (htpasswd)
# and python3-cryptography (the token server's signed JWTs): the registry pull
# tests (tests/integration/test_registry.py) run a real registry on loopback.
# golang-go: the egress proxy's Go client (tests/integration/goclient, built
# static in the test), the net/http of issue 16's "curl, requests or Go".
DEB_TEST := $(DEB_FIXTURES) libcmocka-dev python3-pytest python3-requests iproute2 curl prometheus \
            chromium chromium-driver python3-selenium openssl \
            debhelper lintian mmdebstrap systemd bash-completion \
            podman containerd docker-registry apache2-utils python3-cryptography golang-go
# make test-package alone (make test installs these too): the package's build
# and check, its throwaway root, the unit's tools; ip and openssl for the
# service's network namespace and the renewed TLS pair.
DEB_PACKAGE_TEST := debhelper lintian mmdebstrap systemd iproute2 openssl python3-pytest python3-requests
# make bench: the peers, and what the benches themselves use: libcap-dev
# (bench/spawnbench links -lcap), python3-requests (bench/admission,
# bench/autoscale), debootstrap (bench/unpack's large image), curl and
# iproute2 (bench/warm's in-namespace checks, bench/egress's namespaces),
# openssl (bench/tls's certificate), podman and containerd (bench/oci),
# strace (BENCH_PROFILE=1).
DEB_BENCH := crun runc runsc bubblewrap hyperfine wrk nginx docker-registry skopeo umoci \
             libcap-dev python3-requests debootstrap curl iproute2 openssl podman containerd strace

LLHTTP_DIR := /usr/share/llhttp
LLHTTP_INC := /usr/share/include/llhttp

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla \
        -Wno-unused-parameter
HARDEN := -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fPIE -fstack-clash-protection -fcf-protection
OPT ?= -O2 -g
PKGCFLAGS = $(shell pkg-config --cflags libuv libseccomp sqlite3 libssl libcrypto jansson libarchive 2>/dev/null)
PKGLIBS   = $(shell pkg-config --libs libuv libseccomp sqlite3 libssl libcrypto jansson 2>/dev/null)
# Static by default: libssl and libcrypto (TLS: core/http/tls.c, the client),
# SQLite, jansson, libarchive and its decompressors (zlib, zstd, xz, bzip2,
# lz4) and libseccomp are linked into the binary; libuv and glibc stay
# shared. Every subcommand, 'sfaasd run' included, otherwise pays the
# dynamic loader for libraries it does not use: 2.6 ms -> 1.4 ms for a start
# of the binary here with the first four static, about 0.35 ms less with the
# decompressors (bench/RESULTS.md, "Start of the binary"), and the shared
# libarchive alone would load libxml2, ICU, nettle and acl. libuv stays
# shared: linked statically (Debian ships libuv_a.a) its thread pool is shut
# down after OpenSSL's exit handlers, and LeakSanitizer then reports the
# pool threads' OpenSSL state after a failed TLS pull (make asan,
# test_https_registry_through_the_egress_policy). The price of static
# linking: a security update of those libraries needs a rebuild of sfaasd
# (as with the Go-built faasd, containerd and runc); the decompressors only
# ever see image layers inside the confined sfaasd-unpack helper.
# STATIC_DEPS=0 links them shared.
STATIC_DEPS ?= 1
ifeq ($(STATIC_DEPS),1)
BIN_LIBS = $(shell pkg-config --libs libuv 2>/dev/null) \
           -Wl,-Bstatic -lssl -lcrypto -lsqlite3 -ljansson -larchive -lseccomp \
           -lz -lzstd -llzma -lbz2 -llz4 -Wl,-Bdynamic -lpthread -ldl -lm
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

fixtures: deps-fixtures
	@bash tests/fixtures/mkimages.sh tests/fixtures/out

.PHONY: all fixtures deps deps-fixtures deps-test deps-deb deps-package deps-bench run test test-unit test-integration asan lint \
        layers bench install uninstall deb test-package test-service clean format fuzz
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
#   $(call apt_install,PACKAGES)
apt_install = missing=$$(for p in $(1); do dpkg-query -W -f='$${db:Status-Abbrev}' $$p 2>/dev/null | grep -q '^ii' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

deps:
	@$(call apt_install,$(DEB_BUILD))
deps-fixtures:
	@$(call apt_install,$(DEB_FIXTURES))
deps-test:
	@$(call apt_install,$(DEB_BUILD) $(DEB_TEST))
deps-deb:
	@$(call apt_install,$(DEB_BUILD) debhelper)
deps-package:
	@$(call apt_install,$(DEB_BUILD) $(DEB_PACKAGE_TEST))
deps-bench: deps deps-fixtures
	@$(call apt_install,$(DEB_BENCH))

run: deps
	@$(MAKE) --no-print-directory sfaasd
	./sfaasd serve --listen 127.0.0.1:8080 --data ./.sfaasd-data

test: deps-test
	@$(MAKE) --no-print-directory sfaasd $(UNIT_BIN) $(FUZZ_BIN)
	@$(MAKE) --no-print-directory lint layers
	@SFAASD_BIN=$(CURDIR)/sfaasd BUILD=$(BUILD) PYTHON=$(PYTHON) bash tests/run-all.sh

asan: deps-test
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
	@$(PYTHON) tools/fnsize.py $(LIB_SRC) $(CMD_SRC) || { echo "lint: split the functions above into named steps (docs/STYLE.md)"; exit 1; }

bench: deps-bench sfaasd
	@bash bench/run-all.sh

# /lib/systemd/system: bookworm's unit folder (usr-merged hosts see it in /usr/lib too).
UNITDIR := /lib/systemd/system
install: sfaasd
	install -D -m 0755 sfaasd $(DESTDIR)/usr/bin/sfaasd
	ln -sf sfaasd $(DESTDIR)/usr/bin/sfaasd-runc
	install -D -m 0644 packaging/oci/sfaasd-runc.conf $(DESTDIR)/etc/containers/containers.conf.d/sfaasd-runc.conf
	install -D -m 0644 packaging/sfaasd.service $(DESTDIR)$(UNITDIR)/sfaasd.service
	install -D -m 0644 docs/sfaasd.8 $(DESTDIR)/usr/share/man/man8/sfaasd.8
	install -D -m 0644 docs/sfaasd-runc.8 $(DESTDIR)/usr/share/man/man8/sfaasd-runc.8
	install -D -m 0644 packaging/sfaasd.bash-completion $(DESTDIR)/usr/share/bash-completion/completions/sfaasd
	test -e $(DESTDIR)/etc/sfaasd/config.json || install -D -m 0644 packaging/config.json $(DESTDIR)/etc/sfaasd/config.json

# The config (/etc/sfaasd) and the data (/var/lib/sfaasd) stay; remove them by hand.
uninstall:
	-systemctl disable --now sfaasd.service 2>/dev/null
	rm -f $(DESTDIR)/usr/bin/sfaasd $(DESTDIR)/usr/bin/sfaasd-runc $(DESTDIR)$(UNITDIR)/sfaasd.service \
	      $(DESTDIR)/usr/share/man/man8/sfaasd.8 $(DESTDIR)/usr/share/man/man8/sfaasd-runc.8 \
	      $(DESTDIR)/usr/share/bash-completion/completions/sfaasd \
	      $(DESTDIR)/etc/containers/containers.conf.d/sfaasd-runc.conf
	-systemctl daemon-reload 2>/dev/null
	@echo "kept: /etc/sfaasd (config) and /var/lib/sfaasd (data); apt/dpkg installs are removed with apt"

# ---- the Debian package (debian/) -------------------------------------------------
# Built from a copy of the source files (tracked and new, edits included; not
# what .gitignore ignores) in
# build-deb/, so the working tree's build/ and ./sfaasd are left alone; the
# two .deb files land here.
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
DEB_FILE := sfaasd_$(VERSION)_$(DEB_ARCH).deb
deb: deps-deb
	@rm -rf build-deb && mkdir -p build-deb/sfaasd-$(VERSION)
	@git ls-files -z --cached --others --exclude-standard | xargs -0 sh -c 'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; done' sh \
	    | tar --null -T - -cf - | tar -xf - -C build-deb/sfaasd-$(VERSION)
	cd build-deb/sfaasd-$(VERSION) && GIT_SHA=$(GIT_SHA) dpkg-buildpackage -b -us -uc -j2 >../build.log 2>&1 \
	    || { tail -40 ../build.log; exit 1; }
	cp build-deb/$(DEB_FILE) build-deb/sfaasd-dbgsym_$(VERSION)_$(DEB_ARCH).deb .
	@echo "built ./$(DEB_FILE) and ./sfaasd-dbgsym_$(VERSION)_$(DEB_ARCH).deb (log: build-deb/build.log)"

# Install, upgrade from 0.1.0 (built from PREV_COMMIT with this debian/), remove
# and purge in a fresh bookworm root made by mmdebstrap; lintian on the package.
# In a mount namespace of its own: every mount it makes goes with it.
PREV_COMMIT := 46d8a61
test-package: deps-package deb fixtures $(BUILD)/tests/unitexec
	@SFAASD_DEB=$(CURDIR)/$(DEB_FILE) SFAASD_PREV_COMMIT=$(PREV_COMMIT) SFAASD_UNITEXEC=$(CURDIR)/$(BUILD)/tests/unitexec \
	  unshare --mount --propagation private $(PYTHON) -m pytest -q -p no:cacheprovider tests/package

# The daemon's own tests and the hostile probes with the unit's sandboxing
# applied by tests/service/as-unit.sh (no systemd needed). The probes run
# `sfaasd run`, which needs CAP_SYS_PTRACE the service never uses (docs/SERVICE.md).
SERVICE_TESTS := tests/integration/test_invoke.py tests/integration/test_http_mode.py \
                 tests/integration/test_secrets.py tests/integration/test_images.py \
                 tests/integration/test_usage.py tests/integration/test_async.py \
                 tests/integration/test_service.py tests/integration/test_backup.py
test-service: deps-test sfaasd fixtures $(BUILD)/tests/unitexec
	@SFAASD_BIN=$(CURDIR)/tests/service/as-unit.sh SFAASD_UNIT_BIN=$(CURDIR)/sfaasd \
	  SFAASD_UNIT_FILE=$(CURDIR)/packaging/sfaasd.service SFAASD_UNITEXEC=$(CURDIR)/$(BUILD)/tests/unitexec \
	  $(PYTHON) -m pytest -q -p no:cacheprovider $(SERVICE_TESTS) -k 'not test_not_root_says_run_as_root'
	@SFAASD_BIN=$(CURDIR)/tests/service/as-unit.sh SFAASD_UNIT_BIN=$(CURDIR)/sfaasd SFAASD_UNIT_EXTRA_CAPS=CAP_SYS_PTRACE \
	  SFAASD_UNIT_FILE=$(CURDIR)/packaging/sfaasd.service SFAASD_UNITEXEC=$(CURDIR)/$(BUILD)/tests/unitexec \
	  $(PYTHON) -m pytest -q -p no:cacheprovider tests/probes

# Loads a unit's seccomp settings for tests/service/as-unit.sh.
$(BUILD)/tests/unitexec: tests/service/unitexec.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 $(WARN) -o $@ $< -lseccomp

format:
	clang-format -i $(LIB_SRC) $(CMD_SRC) $(wildcard */*.h core/*/*.h)

clean:
	rm -rf build build-asan build-deb sfaasd sfaasd-asan sfaasd_*.deb sfaasd-dbgsym_*.deb

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
