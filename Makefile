# SPDX-License-Identifier: Apache-2.0
# kgate: one entry point for build, test, fuzz, deps (and demo, bench as they come).

CC := clang
ARCH := $(shell uname -m)
BUILD := build
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -Wall -Werror -I/usr/include/$(ARCH)-linux-gnu -Ibpf
CFLAGS ?= -g -O2
CFLAGS += -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -I. -I$(BUILD) -DKGATE_VERSION='"$(VERSION)"'
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# What every binary that links libkgate.a needs: libbpf (with libelf, zlib), libyaml for the
# policy files, librdkafka for the audit sender.
AGENT_LIBS := -lbpf -lelf -lz -lyaml -lrdkafka -lpthread

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
HDRS := $(wildcard bpf/*.h maps/*.h agent/*/*.h)
# The agent: agent/cmd/ is the binary's commands; everything else is built once into
# libkgate.a, which the binary, the tests and the benchmark link.
CMD_SRCS := $(wildcard agent/cmd/*.c)
LIB_SRCS := $(filter-out $(CMD_SRCS),$(wildcard agent/*/*.c))
LIBKGATE := $(BUILD)/libkgate.a
# The same library with ASan/UBSan, for the unit tests and the fuzzer (whose own code is
# sanitized, so the agent code they drive is checked too).
LIBKGATE_SAN := $(BUILD)/san/libkgate.a

FUZZ_SECONDS ?= 60

.PHONY: all deps test test-unit test-cli test-bpf test-agent test-audit test-conformance fuzz clean fixtures demo help bench bench-datapath bench-profile
.DELETE_ON_ERROR:
# Keep the BPF objects: skeletons are made from them, and rebuilding them is slow.
.SECONDARY: $(BPF_OBJS)

all: $(BUILD)/kgate

help:
	@echo "make            build build/kgate"
	@echo "make deps       install build and test dependencies (Debian packages)"
	@echo "make test       run every test suite (unit, cli, bpf; bpf needs root)"
	@echo "make fuzz       run the decoder fuzzer for FUZZ_SECONDS (default 60)"
	@echo "make bench      datapath ns/packet -> bench/results.json (root)"
	@echo "make bench-profile TOPICS=N   where a warm N-topic Produce spends, by line (root, perf)"
	@echo "make fixtures   regenerate the real-client captures (scripts/capture-fixtures.sh)"
	@echo "make demo       one command: deps, build, rig, kgate, clients from two regions (root)"
	@echo "make test-e2e   real clients in network namespaces against kgate (root)"
	@echo "make test-evasion crafted TCP evasion attempts against kgate (root)"
	@echo "make clean      remove build/"

deps:
	@scripts/install-deps.sh

$(BUILD) $(BUILD)/tests:
	@mkdir -p $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(HDRS) | $(BUILD)
	$(CC) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	bpftool gen skeleton $< > $@

$(BUILD)/obj/%.o: %.c $(HDRS) $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/san/obj/%.o: %.c $(HDRS) $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -O1 $(SAN) -c $< -o $@

$(LIBKGATE): $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
	rm -f $@
	ar rcs $@ $^

$(LIBKGATE_SAN): $(patsubst %.c,$(BUILD)/san/obj/%.o,$(LIB_SRCS))
	rm -f $@
	ar rcs $@ $^

$(BUILD)/kgate: $(patsubst %.c,$(BUILD)/obj/%.o,$(CMD_SRCS)) $(LIBKGATE)
	$(CC) $(CFLAGS) -o $@ $^ $(AGENT_LIBS)

# --- tests -----------------------------------------------------------------

UNIT_SRCS := tests/unit/test_main.c tests/unit/test_decode.c tests/unit/test_policy.c \
	tests/unit/test_policy_yaml.c tests/unit/test_policy_lint.c tests/unit/test_policy_eval.c \
	tests/lib/kframe.c tests/lib/decode_util.c \
	tests/unit/test_audit.c tests/unit/test_events.c tests/lib/cu_run.c

$(BUILD)/tests/test_unit: $(UNIT_SRCS) $(LIBKGATE_SAN) $(wildcard tests/unit/*.h tests/lib/*.h) \
		$(HDRS) $(SKELS) | $(BUILD)/tests
	$(CC) $(CFLAGS) -O1 $(SAN) -o $@ $(UNIT_SRCS) $(LIBKGATE_SAN) -lcunit $(AGENT_LIBS)

TEST_BPF_SRCS := tests/bpf/test_bpf.c tests/bpf/test_topicless.c tests/lib/pkt.c \
	tests/lib/decode_util.c tests/lib/kframe.c tests/lib/cu_run.c

$(BUILD)/tests/test_bpf: $(TEST_BPF_SRCS) $(LIBKGATE) $(wildcard tests/lib/*.h) $(SKELS) $(HDRS) \
		| $(BUILD)/tests
	$(CC) $(CFLAGS) -o $@ $(TEST_BPF_SRCS) $(LIBKGATE) -lcunit $(AGENT_LIBS)

# The datapath cases: the harness and one file per feature (tests/bpf/datapath/).
DATAPATH_TEST_SRCS := tests/bpf/test_datapath.c $(wildcard tests/bpf/datapath/*.c) \
	tests/lib/pkt.c tests/lib/kframe.c tests/lib/cu_run.c

$(BUILD)/tests/test_datapath: $(DATAPATH_TEST_SRCS) $(LIBKGATE) $(wildcard tests/bpf/datapath/*.h) \
		$(wildcard tests/lib/*.h) $(SKELS) $(HDRS) | $(BUILD)/tests
	$(CC) $(CFLAGS) -o $@ $(DATAPATH_TEST_SRCS) $(LIBKGATE) -lcunit $(AGENT_LIBS)

$(BUILD)/tests/fuzz_decode: tests/fuzz/fuzz_decode.c tests/lib/decode_util.c $(LIBKGATE_SAN) \
		$(HDRS) $(SKELS) | $(BUILD)/tests
	$(CC) $(CFLAGS) -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-o $@ tests/fuzz/fuzz_decode.c tests/lib/decode_util.c $(LIBKGATE_SAN) $(AGENT_LIBS)

test: test-unit test-conformance test-cli test-bpf test-agent test-audit test-deploy test-e2e test-evasion test-faults test-flows

$(BUILD)/tests/kframe_selftest: tests/lib/kframe_selftest.c tests/lib/kframe.c \
		tests/lib/kframe.h | $(BUILD)/tests
	$(CC) $(CFLAGS) -O1 $(SAN) -o $@ tests/lib/kframe_selftest.c tests/lib/kframe.c

# The decoder against Kafka's own message definitions (tests/conformance/): every api key,
# version and direction, whole, byte by byte, split at every byte on a sample, pipelined.
# CONFORMANCE_CASES frames per key, version and direction (make fuzz runs more).
CONFORMANCE_CASES ?= 4
CONFORMANCE_FUZZ_CASES ?= 60

$(BUILD)/tests/conform_drv: tests/conformance/conform_drv.c $(LIBKGATE_SAN) $(HDRS) | $(BUILD)/tests
	$(CC) $(CFLAGS) -O1 $(SAN) -o $@ tests/conformance/conform_drv.c $(LIBKGATE_SAN) $(AGENT_LIBS)

test-conformance: $(BUILD)/tests/conform_drv
	CONFORMANCE_CASES=$(CONFORMANCE_CASES) /usr/bin/python3 tests/conformance/conform.py \
		--driver $(BUILD)/tests/conform_drv

test-unit: $(BUILD)/tests/test_unit $(BUILD)/tests/kframe_selftest
	$(BUILD)/tests/kframe_selftest
	cd tests && ../$(BUILD)/tests/test_unit

# The audit pipeline against the mock broker: fields, broker down/up, SIGKILL, rate.
$(BUILD)/tests/audit_driver: tests/agent/audit_driver.c $(LIBKGATE) $(HDRS) $(SKELS) | $(BUILD)/tests
	$(CC) $(CFLAGS) -o $@ tests/agent/audit_driver.c $(LIBKGATE) $(AGENT_LIBS)

test-audit: $(BUILD)/tests/audit_driver $(BUILD)/kgate
	BUILD=$(BUILD) tests/agent/test_audit.sh

test-cli: $(BUILD)/kgate
	KGATE=$(BUILD)/kgate tests/cli/test_cli.sh
	KGATE=$(BUILD)/kgate tests/cli/test_policy_lint.sh

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

# Root: kgate run/apply/flows/stats/detach on a veth against the mock broker (kcat).
test-agent: $(BUILD)/kgate
	@if [ "$$(id -u)" -ne 0 ]; then echo "test-agent: needs root (BPF, netns)" >&2; exit 1; fi
	KGATE=$(BUILD)/kgate tests/agent/test_runtime.sh

# --- end to end and deploy -------------------------------------------------

.PHONY: test-deploy test-e2e test-evasion test-faults test-flows

$(BUILD)/tests/mock_broker: tests/tools/mock_broker.c | $(BUILD)/tests
	$(CC) -O2 -Wall -Werror -o $@ $< $$(pkg-config --cflags --libs rdkafka)

# test scaffolding only: spoofed SYNs for the SYN flood case (tests/e2e/test_flows.sh)
$(BUILD)/tests/syn_flood: tests/tools/syn_flood.c | $(BUILD)/tests
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $<

# test scaffolding only: the SASL front the mock lacks (DESIGN §8)
$(BUILD)/tests/sasl_front: tests/tools/sasl_front.c | $(BUILD)/tests
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $< -lcrypto

# The deploy files against the flags of this build's `kgate run`.
test-deploy: $(BUILD)/kgate
	KGATE=$(BUILD)/kgate /usr/bin/python3 tests/deploy/test_deploy.py

# Root: the rig alone, the SASL front, then scenarios 1-9 with kgate attached.
test-e2e: $(BUILD)/kgate $(BUILD)/tests/mock_broker $(BUILD)/tests/sasl_front
	@if [ "$$(id -u)" -ne 0 ]; then echo "test-e2e: needs root (BPF, netns)" >&2; exit 1; fi
	BUILD=$(BUILD) tests/e2e/test_rig.sh
	BUILD=$(BUILD) tests/e2e/test_sasl_front.sh
	BUILD=$(BUILD) KGATE=$(BUILD)/kgate tests/e2e/test_e2e.sh

# Root: crafted TCP sessions (scapy) through kgate; prints the evasion suite's table.
test-evasion: $(BUILD)/kgate $(BUILD)/tests/mock_broker
	@if [ "$$(id -u)" -ne 0 ]; then echo "test-evasion: needs root (BPF, netns)" >&2; exit 1; fi
	BUILD=$(BUILD) KGATE=$(BUILD)/kgate tests/e2e/test_evasion.sh

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

BENCH_SRCS := bench/bench_datapath.c tests/lib/pkt.c tests/lib/kframe.c

$(BUILD)/bench_wrap.bpf.o: bench/bench_wrap.bpf.c $(HDRS) | $(BUILD)
	$(CC) $(BPF_CFLAGS) -Ibpf -c $< -o $@

$(BUILD)/bench_datapath: $(BENCH_SRCS) $(LIBKGATE) $(SKELS) $(BUILD)/bench_wrap.skel.h $(HDRS) | $(BUILD)
	$(CC) $(CFLAGS) -o $@ $(BENCH_SRCS) $(LIBKGATE) $(AGENT_LIBS)

bench: bench-datapath

bench-datapath: $(BUILD)/bench_datapath
	$(BUILD)/bench_datapath bench/results.json

$(BUILD)/jit_lines: bench/jit_lines.c | $(BUILD)
	$(CC) $(CFLAGS) -Wall -Werror -o $@ $< $(AGENT_LIBS)

# Where the datapath spends a warm Produce of TOPICS topics, by source line (root, perf).
bench-profile: $(BUILD)/bench_datapath $(BUILD)/jit_lines
	bench/profile.sh $(or $(TOPICS),10)

fixtures:
	scripts/capture-fixtures.sh

clean:
	rm -rf $(BUILD)
