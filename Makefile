# SPDX-License-Identifier: Apache-2.0
# kgate: one entry point for build, test, fuzz, deps (and demo, bench as they come).

CC := clang
ARCH := $(shell uname -m)
BUILD := build
# `kgate version`: the semantic version (the VERSION file) and the commit it was built from
# (git describe; a build without .git, as in the container, passes COMMIT=...).
SEMVER := $(shell cat VERSION)
COMMIT ?= $(shell git describe --always --dirty 2>/dev/null || echo unknown)

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -Wall -Werror -I/usr/include/$(ARCH)-linux-gnu -Ibpf
CFLAGS ?= -g -O2
CFLAGS += -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -I. -I$(BUILD)
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# What every binary that links libkgate.a needs: libbpf (with libelf, zlib), libyaml for the
# policy files, librdkafka for the audit sender.
AGENT_LIBS := -lbpf -lelf -lz -lyaml -lrdkafka -lpthread

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
# Header dependencies: every compile writes the headers it read (-MMD, into a .d beside
# its output; -MP: a header deleted later breaks nothing), and make reads them all back,
# so a changed header rebuilds exactly what includes it. A program made in one compile
# and link from one source names its own .d (SINGLE_DEPS).
DEPFLAGS := -MMD -MP
SINGLE_DEPS = $(DEPFLAGS) -MF $@.d -MT $@
# The agent: agent/cmd/ is the binary's commands; everything else is built once into
# libkgate.a, which the binary, the tests and the benchmark link.
CMD_SRCS := $(wildcard agent/cmd/*.c)
LIB_SRCS := $(filter-out $(CMD_SRCS),$(wildcard agent/*/*.c))
LIBKGATE := $(BUILD)/libkgate.a
# The same library with ASan/UBSan, for the unit tests and the conformance driver (whose
# own code is sanitized, so the agent code they drive is checked too).
LIBKGATE_SAN := $(BUILD)/san/libkgate.a
# And for the fuzzer: sanitized and instrumented for libFuzzer's coverage, so that the
# agent code it drives (agent/decode/report.c...) guides it too, not only its own file.
FUZZ_FLAGS := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LIBKGATE_FUZZ := $(BUILD)/fuzz/libkgate.a
# Host objects by build: plain, sanitized, instrumented for the fuzzer.
OBJS = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
SAN_OBJS = $(patsubst %.c,$(BUILD)/san/obj/%.o,$(1))
FUZZ_OBJS = $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(1))

FUZZ_SECONDS ?= 60

.PHONY: FORCE all deps install uninstall image test test-unit test-cli test-build test-install test-bpf test-agent test-audit test-conformance fuzz clean fixtures demo help bench bench-datapath bench-profile
.DELETE_ON_ERROR:
# Keep the BPF objects: skeletons are made from them, and rebuilding them is slow.
.SECONDARY: $(BPF_OBJS)

all: $(BUILD)/kgate

help:
	@echo "make            build build/kgate"
	@echo "make deps       install build and test dependencies (Debian packages)"
	@echo "make test       run every test suite (unit, cli, bpf; bpf needs root)"
	@echo "make fuzz       run the decoder fuzzer for FUZZ_SECONDS (default 60)"
	@echo "make bench      the benchmark -> bench/results.json, BENCHMARKS.md (root, ~15 min)"
	@echo "make bench-PART one part: datapath e2e storm l3 flows audit policy (BENCH_QUICK=1: short)"
	@echo "make bench-profile TOPICS=N   where a warm N-topic Produce spends, by line (root, perf)"
	@echo "make fixtures   regenerate the real-client captures (scripts/capture-fixtures.sh)"
	@echo "make demo       one command: deps, build, rig, kgate, clients from two regions (root)"
	@echo "make test-e2e   real clients in network namespaces against kgate (root)"
	@echo "make test-evasion crafted TCP evasion attempts against kgate (root)"
	@echo "make install    binary, man pages, bash/zsh completion, systemd units, example"
	@echo "                policies under PREFIX (/usr/local), staged under DESTDIR"
	@echo "make uninstall  remove what make install installed (same PREFIX, DESTDIR)"
	@echo "make image      the container image (deploy/Containerfile) with podman, buildah"
	@echo "                or docker, whichever is present and working (IMAGE=kgate:VERSION)"
	@echo "make clean      remove build/"

deps:
	@scripts/install-deps.sh

$(BUILD) $(BUILD)/tests:
	@mkdir -p $@

# Rewritten only when the version or the commit changed: kgate version never says a stale
# one, and nothing else is rebuilt for it.
$(BUILD)/version.h: FORCE | $(BUILD)
	@printf '#define KGATE_SEMVER "%s"\n#define KGATE_COMMIT "%s"\n' '$(SEMVER)' '$(COMMIT)' >$@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi

$(BUILD)/%.bpf.o: bpf/%.bpf.c | $(BUILD)
	$(CC) $(BPF_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	bpftool gen skeleton $< > $@

# The skeletons and version.h must exist before the first compile of a file that includes
# them (order-only); after that, the .d files say which objects they rebuild.
$(BUILD)/obj/%.o: %.c | $(SKELS) $(BUILD)/version.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/san/obj/%.o: %.c | $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -O1 $(SAN) $(DEPFLAGS) -c $< -o $@

$(BUILD)/fuzz/obj/%.o: %.c | $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(DEPFLAGS) -c $< -o $@

$(LIBKGATE): $(call OBJS,$(LIB_SRCS))
	rm -f $@
	ar rcs $@ $^

$(LIBKGATE_SAN): $(call SAN_OBJS,$(LIB_SRCS))
	rm -f $@
	ar rcs $@ $^

$(LIBKGATE_FUZZ): $(call FUZZ_OBJS,$(LIB_SRCS))
	rm -f $@
	ar rcs $@ $^

$(BUILD)/kgate: $(call OBJS,$(CMD_SRCS)) $(LIBKGATE)
	$(CC) $(CFLAGS) -o $@ $^ $(AGENT_LIBS)

# --- install ---------------------------------------------------------------
#
# The man pages and completions are made by the binary from its own option tables
# (`kgate __man`, `kgate __completion`: agent/cmd/gen.c), so they describe exactly the
# binary installed beside them. (A cross-compiled build cannot run its binary here: make
# them on the target, or from a native build of the same commit.)

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR ?= $(DATADIR)/zsh/site-functions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
UNITS := deploy/kgate.service deploy/kgate-policy.path deploy/kgate-policy-reload.service

$(BUILD)/man/.made: $(BUILD)/kgate
	rm -rf $(BUILD)/man
	mkdir -p $(BUILD)/man
	for p in $$($(BUILD)/kgate __man --list); do \
		$(BUILD)/kgate __man $$p >$(BUILD)/man/$$p.1 || exit 1; \
	done
	touch $@

$(BUILD)/completion/kgate $(BUILD)/completion/_kgate: $(BUILD)/kgate
	mkdir -p $(BUILD)/completion
	$(BUILD)/kgate __completion bash >$(BUILD)/completion/kgate
	$(BUILD)/kgate __completion zsh >$(BUILD)/completion/_kgate

# The units name the binary: /usr/local/bin/kgate in deploy/, BINDIR once installed.
install: $(BUILD)/kgate $(BUILD)/man/.made $(BUILD)/completion/kgate $(BUILD)/completion/_kgate
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) \
		$(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(DATADIR)/kgate/policies
	install -m 755 $(BUILD)/kgate $(DESTDIR)$(BINDIR)/kgate
	install -m 644 $(BUILD)/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(BUILD)/completion/kgate $(DESTDIR)$(BASHCOMPDIR)/kgate
	install -m 644 $(BUILD)/completion/_kgate $(DESTDIR)$(ZSHCOMPDIR)/_kgate
	for u in $(UNITS); do \
		sed 's|/usr/local/bin/kgate|$(BINDIR)/kgate|g' $$u >$(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/} && \
		chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/} || exit 1; \
	done
	install -m 644 policies/*.yaml $(DESTDIR)$(DATADIR)/kgate/policies/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/kgate $(DESTDIR)$(BASHCOMPDIR)/kgate $(DESTDIR)$(ZSHCOMPDIR)/_kgate
	rm -f $(DESTDIR)$(MANDIR)/man1/kgate.1 $(DESTDIR)$(MANDIR)/man1/kgate-*.1
	rm -f $(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(notdir $(UNITS)))
	rm -rf $(DESTDIR)$(DATADIR)/kgate/policies
	-rmdir $(DESTDIR)$(DATADIR)/kgate 2>/dev/null

# The container image (deploy/Containerfile) with whatever OCI builder works here.
IMAGE ?= kgate:$(SEMVER)
image:
	IMAGE=$(IMAGE) COMMIT=$(COMMIT) scripts/image.sh

# --- tests -----------------------------------------------------------------

UNIT_SRCS := tests/unit/test_main.c tests/unit/test_decode.c tests/unit/test_policy.c \
	tests/unit/test_policy_yaml.c tests/unit/test_policy_lint.c tests/unit/test_policy_eval.c \
	tests/lib/kframe.c tests/lib/decode_util.c tests/unit/test_audit.c tests/unit/test_codec.c \
	tests/unit/test_events.c tests/unit/test_drain.c tests/unit/test_lifecycle.c \
	tests/lib/cu_run.c

$(BUILD)/tests/test_unit: $(call SAN_OBJS,$(UNIT_SRCS)) $(LIBKGATE_SAN) | $(BUILD)/tests
	$(CC) $(CFLAGS) -O1 $(SAN) -o $@ $^ -lcunit $(AGENT_LIBS)

TEST_BPF_SRCS := tests/bpf/test_bpf.c tests/bpf/test_topicless.c tests/lib/pkt.c \
	tests/lib/decode_util.c tests/lib/kframe.c tests/lib/cu_run.c

$(BUILD)/tests/test_bpf: $(call OBJS,$(TEST_BPF_SRCS)) $(LIBKGATE) | $(BUILD)/tests
	$(CC) $(CFLAGS) -o $@ $^ -lcunit $(AGENT_LIBS)

# The datapath cases: the harness and one file per feature (tests/bpf/datapath/).
DATAPATH_TEST_SRCS := tests/bpf/test_datapath.c $(wildcard tests/bpf/datapath/*.c) \
	tests/lib/pkt.c tests/lib/kframe.c tests/lib/cu_run.c

$(BUILD)/tests/test_datapath: $(call OBJS,$(DATAPATH_TEST_SRCS)) $(LIBKGATE) | $(BUILD)/tests
	$(CC) $(CFLAGS) -o $@ $^ -lcunit $(AGENT_LIBS)

FUZZ_SRCS := tests/fuzz/fuzz_decode.c tests/lib/decode_util.c

$(BUILD)/tests/fuzz_decode: $(call FUZZ_OBJS,$(FUZZ_SRCS)) $(LIBKGATE_FUZZ) | $(BUILD)/tests
	$(CC) $(CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(AGENT_LIBS)

test: test-unit test-conformance test-cli test-build test-install test-bpf test-agent test-audit \
	test-deploy test-e2e test-evasion test-faults test-flows test-storm test-bench

$(BUILD)/tests/kframe_selftest: $(call SAN_OBJS,tests/lib/kframe_selftest.c tests/lib/kframe.c) \
		| $(BUILD)/tests
	$(CC) $(CFLAGS) -O1 $(SAN) -o $@ $^

# The decoder against Kafka's own message definitions (tests/conformance/): every api key,
# version and direction, whole, byte by byte, split at every byte on a sample, pipelined.
# CONFORMANCE_CASES frames per key, version and direction (make fuzz runs more).
CONFORMANCE_CASES ?= 4
CONFORMANCE_FUZZ_CASES ?= 60

$(BUILD)/tests/conform_drv: $(call SAN_OBJS,tests/conformance/conform_drv.c) $(LIBKGATE_SAN) \
		| $(BUILD)/tests
	$(CC) $(CFLAGS) -O1 $(SAN) -o $@ $^ $(AGENT_LIBS)

test-conformance: $(BUILD)/tests/conform_drv
	CONFORMANCE_CASES=$(CONFORMANCE_CASES) /usr/bin/python3 tests/conformance/conform.py \
		--driver $(BUILD)/tests/conform_drv

test-unit: $(BUILD)/tests/test_unit $(BUILD)/tests/kframe_selftest
	$(BUILD)/tests/kframe_selftest
	cd tests && ../$(BUILD)/tests/test_unit

# The audit pipeline against the mock broker: fields, broker down/up, SIGKILL, rate; and
# what reads the audit topic back: audit trace --from-kafka, observe --from-kafka.
$(BUILD)/tests/audit_driver: $(call OBJS,tests/agent/audit_driver.c) $(LIBKGATE) | $(BUILD)/tests
	$(CC) $(CFLAGS) -o $@ $^ $(AGENT_LIBS)

test-audit: $(BUILD)/tests/audit_driver $(BUILD)/kgate
	BUILD=$(BUILD) tests/agent/test_audit.sh
	BUILD=$(BUILD) tests/agent/test_trace.sh

test-cli: $(BUILD)/kgate
	KGATE=$(BUILD)/kgate tests/cli/test_cli.sh
	KGATE=$(BUILD)/kgate /usr/bin/python3 tests/cli/test_readme_cli.py
	KGATE=$(BUILD)/kgate tests/cli/test_policy_lint.sh
	KGATE=$(BUILD)/kgate /usr/bin/python3 tests/cli/test_policy_store.py
	KGATE=$(BUILD)/kgate /usr/bin/python3 tests/cli/test_pcap.py
	KGATE=$(BUILD)/kgate /usr/bin/python3 tests/cli/test_trace.py

# The Makefile's dependencies on a copy of the tree and its build: a changed header rebuilds
# exactly what includes it; a new commit makes `kgate version` name it.
BUILD_TEST_PROGS := $(BUILD)/kgate $(BUILD)/tests/test_bpf $(BUILD)/tests/test_datapath \
	$(BUILD)/tests/fuzz_decode $(BUILD)/bench_datapath

test-build: $(BUILD_TEST_PROGS)
	BUILD=$(BUILD) tests/build/test_build.sh

# make install into a temporary DESTDIR, then what it put there: man pages, completions.
test-install: $(BUILD)/kgate
	BUILD=$(BUILD) tests/install/test_install.sh

# Root: loads BPF programs, attaches XDP in network namespaces.
test-bpf: $(BUILD)/tests/test_bpf $(BUILD)/tests/test_datapath $(BUILD)/kgate $(BUILD)/tests/conform_drv
	@if [ "$$(id -u)" -ne 0 ]; then echo "test-bpf: needs root (BPF, netns)" >&2; exit 1; fi
	/usr/bin/python3 tests/conformance/conform.py --driver $(BUILD)/tests/conform_drv \
		--cases 2 --emit $(BUILD)/tests/conform-streams.bin
	cd tests && KGATE_CONFORM_STREAMS=../$(BUILD)/tests/conform-streams.bin \
		../$(BUILD)/tests/test_bpf
	$(BUILD)/tests/test_datapath
	KGATE=$(BUILD)/kgate tests/bpf/test_probe_netns.sh tests/fixtures/captures/kafkapython-produce-c2.bin
	KGATE=$(BUILD)/kgate tests/bpf/test_probe_netns.sh tests/fixtures/captures/confluent-group-c2.bin

# Root: kgate run/apply/flows/stats/detach on a veth against the mock broker (kcat); the
# policy store and lifecycle (history, rollback, pause, confirmed applies, whatif, rotation);
# the store under faults (locks, killed changes, journal size, restores, clocks).
test-agent: $(BUILD)/kgate
	@if [ "$$(id -u)" -ne 0 ]; then echo "test-agent: needs root (BPF, netns)" >&2; exit 1; fi
	KGATE=$(BUILD)/kgate tests/agent/test_runtime.sh
	KGATE=$(BUILD)/kgate tests/agent/test_lifecycle.sh
	KGATE=$(BUILD)/kgate tests/agent/test_store.sh

# --- end to end and deploy -------------------------------------------------

.PHONY: test-deploy test-e2e test-evasion test-faults test-flows test-storm

$(BUILD)/tests/mock_broker: tests/tools/mock_broker.c | $(BUILD)/tests
	$(CC) -O2 -Wall -Werror -o $@ $< $$(pkg-config --cflags --libs rdkafka)

# test scaffolding only: spoofed SYNs for the SYN flood case (tests/e2e/test_flows.sh)
$(BUILD)/tests/syn_flood: tests/tools/syn_flood.c | $(BUILD)/tests
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $<

# test scaffolding only: the SASL front the mock lacks (docs/DESIGN.md §8)
$(BUILD)/tests/sasl_front: tests/tools/sasl_front.c tests/lib/wire.h | $(BUILD)/tests
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $< -lcrypto

# The deploy files against the flags of this build's `kgate run`.
test-deploy: $(BUILD)/kgate
	KGATE=$(BUILD)/kgate /usr/bin/python3 tests/deploy/test_deploy.py

# Root: the rig alone, the SASL front, scenarios 1-9 with kgate attached, and which end of
# a broker's veth kgate must be on.
test-e2e: $(BUILD)/kgate $(BUILD)/tests/mock_broker $(BUILD)/tests/sasl_front
	@if [ "$$(id -u)" -ne 0 ]; then echo "test-e2e: needs root (BPF, netns)" >&2; exit 1; fi
	BUILD=$(BUILD) tests/e2e/test_rig.sh
	BUILD=$(BUILD) tests/e2e/test_sasl_front.sh
	BUILD=$(BUILD) KGATE=$(BUILD)/kgate tests/e2e/test_e2e.sh
	BUILD=$(BUILD) KGATE=$(BUILD)/kgate tests/e2e/test_veth_end.sh

# Root: crafted TCP sessions (scapy) through kgate, on XDP and on TC ingress; prints the
# evasion suite's table for each.
test-evasion: $(BUILD)/kgate $(BUILD)/tests/mock_broker
	@if [ "$$(id -u)" -ne 0 ]; then echo "test-evasion: needs root (BPF, netns)" >&2; exit 1; fi
	BUILD=$(BUILD) KGATE=$(BUILD)/kgate tests/e2e/test_evasion.sh
	BUILD=$(BUILD) KGATE=$(BUILD)/kgate EVASION_TCI=1 tests/e2e/test_evasion.sh

# Root: the fault suite under client load (SIGKILL, audit broker down 30 s, a
# broken and a 10,000-rule policy applied); the table of its results.
test-faults: $(BUILD)/kgate $(BUILD)/tests/mock_broker
	@if [ "$$(id -u)" -ne 0 ]; then echo "test-faults: needs root (BPF, netns)" >&2; exit 1; fi
	BUILD=$(BUILD) KGATE=$(BUILD)/kgate tests/e2e/test_faults.sh

# Root: connections under stress on the rig: a SYN flood beside established connections,
# 16 and 64 pipelined rejected requests, kgate flows' filters.
test-flows: $(BUILD)/kgate $(BUILD)/tests/mock_broker $(BUILD)/tests/syn_flood
	@if [ "$$(id -u)" -ne 0 ]; then echo "test-flows: needs root (BPF, netns)" >&2; exit 1; fi
	BUILD=$(BUILD) KGATE=$(BUILD)/kgate tests/e2e/test_flows.sh

# Root: a deny storm beside a neighbour on the rig: few records, their counts equal to the
# datapath's counters, the neighbour's decisions all recorded (bpf/fold.h).
test-storm: $(BUILD)/kgate $(BUILD)/tests/mock_broker $(BUILD)/bench/kwire
	@if [ "$$(id -u)" -ne 0 ]; then echo "test-storm: needs root (BPF, netns)" >&2; exit 1; fi
	BUILD=$(BUILD) KGATE=$(BUILD)/kgate tests/e2e/test_storm.sh

demo:
	BUILD=$(BUILD) scripts/demo.sh

fuzz: $(BUILD)/tests/fuzz_decode $(BUILD)/tests/conform_drv
	CONFORMANCE_CASES=$(CONFORMANCE_FUZZ_CASES) /usr/bin/python3 tests/conformance/conform.py \
		--driver $(BUILD)/tests/conform_drv --pipelined 2000
	@mkdir -p $(BUILD)/fuzz-corpus
	cp -n tests/fixtures/captures/*.bin $(BUILD)/fuzz-corpus/ 2>/dev/null || true
	$(BUILD)/tests/fuzz_decode -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		-max_len=8192 -timeout=10 $(BUILD)/fuzz-corpus tests/fuzz/seeds

# --- benchmarks (root; numbers, never assertions) --------------------------
# `make bench` runs every part (bench/run.sh) and writes bench/results.json, bench/BENCHMARKS.md
# and bench/benchmarks.png; `make bench-PART` reruns one part and keeps the others' results.
# BENCH_QUICK=1: one short round of each (a developer's check, not a measurement).

BENCH_SRCS := bench/bench_datapath.c tests/lib/pkt.c tests/lib/kframe.c
BENCH_PARTS := datapath e2e storm l3 flows audit policy
BENCH_BIN := $(BUILD)/bench
BENCH_BPF := $(BENCH_BIN)/xdp_pass.bpf.o $(BENCH_BIN)/xdp_bounce.bpf.o $(BENCH_BIN)/netem.bpf.o
BENCH_TOOLS := $(BENCH_BIN)/kprod $(BENCH_BIN)/kwire $(BENCH_BIN)/relay $(BENCH_BIN)/synflood \
	$(BENCH_BIN)/netem $(BENCH_BIN)/bpfrun $(BENCH_BPF) $(BUILD)/bench_datapath $(BUILD)/kgate \
	$(BUILD)/tests/mock_broker

$(BUILD)/bench_wrap.bpf.o: bench/bench_wrap.bpf.c | $(BUILD)
	$(CC) $(BPF_CFLAGS) $(DEPFLAGS) -Ibpf -c $< -o $@

$(BUILD)/obj/bench/bench_datapath.o: | $(BUILD)/bench_wrap.skel.h

$(BUILD)/bench_datapath: $(call OBJS,$(BENCH_SRCS)) $(LIBKGATE) | $(BUILD)
	$(CC) $(CFLAGS) -o $@ $^ $(AGENT_LIBS)

$(BENCH_BIN):
	@mkdir -p $@

$(BENCH_BIN)/%.bpf.o: bench/%.bpf.c | $(BENCH_BIN)
	$(CC) $(BPF_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BENCH_BIN)/%.skel.h: $(BENCH_BIN)/%.bpf.o
	bpftool gen skeleton $< > $@

$(BENCH_BIN)/kprod: bench/kprod.c | $(BENCH_BIN)
	$(CC) $(CFLAGS) $(SINGLE_DEPS) -o $@ $< -lrdkafka

BENCH_SIMPLE := $(BENCH_BIN)/kwire $(BENCH_BIN)/relay $(BENCH_BIN)/synflood
$(BENCH_SIMPLE): $(BENCH_BIN)/%: bench/%.c | $(BENCH_BIN)
	$(CC) $(CFLAGS) $(SINGLE_DEPS) -o $@ $<

$(BENCH_BIN)/netem: bench/netem.c | $(BENCH_BIN)/netem.skel.h $(BENCH_BIN)
	$(CC) $(CFLAGS) $(SINGLE_DEPS) -I$(BENCH_BIN) -o $@ $< $(AGENT_LIBS)

$(BENCH_BIN)/bpfrun: $(call OBJS,bench/bpfrun.c tests/lib/pkt.c tests/lib/kframe.c) | $(BENCH_BIN)
	$(CC) $(CFLAGS) -o $@ $^ $(AGENT_LIBS)

.PHONY: bench-tools test-bench $(addprefix bench-,$(BENCH_PARTS))
bench-tools: $(BENCH_TOOLS)

bench: bench-tools
	BUILD=$(BUILD) bench/run.sh

$(addprefix bench-,$(BENCH_PARTS)): bench-%: bench-tools
	BUILD=$(BUILD) bench/run.sh $*

# Root, ~20 s: the tools build and a BENCH_QUICK run of one part writes its results, report
# and plot elsewhere and cleans up (the numbers are not judged: speed is for the benchmark).
test-bench: bench-tools
	BUILD=$(BUILD) tests/bench/test_bench.sh

$(BUILD)/jit_lines: bench/jit_lines.c | $(BUILD)
	$(CC) $(CFLAGS) $(SINGLE_DEPS) -o $@ $< $(AGENT_LIBS)

# Where the datapath spends a warm Produce of TOPICS topics, by source line (root, perf).
bench-profile: $(BUILD)/bench_datapath $(BUILD)/jit_lines
	bench/profile.sh $(or $(TOPICS),10)

fixtures:
	scripts/capture-fixtures.sh

clean:
	rm -rf $(BUILD)

# What each object, BPF object and single-source program read when it was last made.
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
