// SPDX-License-Identifier: Apache-2.0
/*
 * BPF tests (root): the decoder compiled into an XDP program (bpf/decode_probe.bpf.c)
 *  - is accepted by this kernel's verifier; the verified instruction count is printed;
 *  - reports, through BPF_PROG_RUN on real TCP/IP packets, exactly what the host
 *    build reports for the same byte streams (real client captures and synthesized
 *    frames of every covered version), whatever the segmentation, IPv4 and IPv6.
 */
#include <CUnit/Basic.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/decode/report.h"
#include "bpf/kafka_decode.h"
#include "decode_probe.skel.h"
#include "tests/lib/cu_run.h"
#include "tests/lib/decode_util.h"
#include "tests/lib/kframe.h"

#define FIXTURES "fixtures/captures"
#define PORT 9092
#define MSS 1448

static struct decode_probe_bpf *skel;
static struct ring_buffer *rb;
static struct kg_buf kernel_out;
static __u16 next_sport = 20000;

static int on_event(void *ctx, void *data, size_t size)
{
	const struct kd_probe_event *e = data;
	struct kd_state st;

	(void)ctx;
	if (size < sizeof(*e))
		return 0;
	kd_probe_to_state(e, &st);
	kdr_event_text(&kernel_out, &st, e->ev);
	return 0;
}

static int setup(void)
{
	skel = decode_probe_bpf__open();
	if (!skel)
		return -1;
	skel->rodata->listen_port = PORT;
	if (decode_probe_bpf__load(skel)) {
		fprintf(stderr, "decode_probe: load failed: %s\n", strerror(errno));
		return -1;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.probe_events), on_event, NULL, NULL);
	return rb ? 0 : -1;
}

static int teardown(void)
{
	ring_buffer__free(rb);
	decode_probe_bpf__destroy(skel);
	kg_buf_free(&kernel_out);
	return 0;
}

static void test_verifier_accepts(void)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_program__fd(skel->progs.decode_probe);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	printf("\n    decode_probe: verifier processed %u instructions; %u xlated bytes (%u insns)\n",
	       info.verified_insns, info.xlated_prog_len, info.xlated_prog_len / 8);
	CU_ASSERT(info.verified_insns > 0);
}

/* An Ethernet + IPv4/IPv6 + TCP packet to PORT carrying payload. */
static size_t make_packet(__u8 *pkt, bool v6, __u16 sport, __u32 seq, bool syn,
			  const __u8 *payload, size_t plen)
{
	struct ethhdr *eth = (void *)pkt;
	struct tcphdr *tcp;
	size_t l3;

	memset(pkt, 0, 128);
	eth->h_proto = htons(v6 ? ETH_P_IPV6 : ETH_P_IP);
	if (v6) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		ip6->version = 6;
		ip6->nexthdr = IPPROTO_TCP;
		ip6->hop_limit = 64;
		ip6->payload_len = htons(sizeof(*tcp) + plen);
		inet_pton(AF_INET6, "fd00:10::5", &ip6->saddr);
		inet_pton(AF_INET6, "fd00:99::1", &ip6->daddr);
		l3 = sizeof(*ip6);
	} else {
		struct iphdr *ip = (void *)(eth + 1);

		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 64;
		ip->protocol = IPPROTO_TCP;
		ip->tot_len = htons(sizeof(*ip) + sizeof(*tcp) + plen);
		ip->saddr = htonl(0x0a0a0005);
		ip->daddr = htonl(0x0a630001);
		l3 = sizeof(*ip);
	}
	tcp = (void *)(pkt + sizeof(*eth) + l3);
	tcp->source = htons(sport);
	tcp->dest = htons(PORT);
	tcp->seq = htonl(seq);
	tcp->doff = 5;
	tcp->syn = syn;
	tcp->ack = !syn;
	memcpy(tcp + 1, payload, plen);
	return sizeof(*eth) + l3 + sizeof(*tcp) + plen;
}

static int run_packet(const __u8 *pkt, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = len, .repeat = 1);
	int err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.decode_probe), &opts);

	if (err)
		return -1;
	return opts.retval;
}

/*
 * Sends stream through the XDP program as one connection, cut into segments of
 * seg bytes (the last may be shorter), and returns what the kernel reported.
 */
static char *kernel_render(const __u8 *stream, size_t len, size_t seg, bool v6)
{
	static __u8 pkt[128 + MSS];
	__u16 sport = next_sport++;
	__u32 seq = 1000;
	size_t n;

	kernel_out.len = 0;
	kg_buf_printf(&kernel_out, "%s", "");
	n = make_packet(pkt, v6, sport, seq++, true, NULL, 0);
	CU_ASSERT_EQUAL(run_packet(pkt, n), XDP_PASS);
	for (size_t off = 0; off < len; off += seg) {
		size_t plen = len - off < seg ? len - off : seg;

		n = make_packet(pkt, v6, sport, seq, false, stream + off, plen);
		seq += plen;
		if (run_packet(pkt, n) != XDP_PASS) {
			CU_FAIL("XDP program did not pass a packet");
			break;
		}
		ring_buffer__consume(rb);
	}
	ring_buffer__consume(rb);
	return strdup(kernel_out.p);
}

/* The host's report without its final "eof" line, which the probe does not send. */
static char *host_render(const __u8 *stream, size_t len, size_t seg)
{
	char *s = du_render_chunked(stream, len, seg), *eof = strstr(s, "eof phase=");

	if (eof)
		*eof = 0;
	return s;
}

static int compare(const char *what, const __u8 *stream, size_t len, size_t seg, bool v6)
{
	char *k = kernel_render(stream, len, seg, v6);
	char *h = host_render(stream, len, seg);
	int same = !strcmp(k, h);

	if (!same)
		fprintf(stderr, "\n--- %s (seg %zu, %s): host ---\n%s--- kernel ---\n%s---\n", what,
			seg, v6 ? "IPv6" : "IPv4", h, k);
	CU_ASSERT_TRUE(same);
	free(k);
	free(h);
	return same;
}

static void test_fixtures_kernel_equals_host(void)
{
	DIR *d = opendir(FIXTURES);
	struct dirent *e;
	int n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name), len;
		char path[512];
		__u8 *buf;

		if (l < 5 || strcmp(e->d_name + l - 4, ".bin"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", FIXTURES, e->d_name);
		buf = du_read_file(path, &len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
		compare(path, buf, len, MSS, n & 1);
		compare(path, buf, len, 7, !(n & 1));
		if (len < 4096)
			compare(path, buf, len, 1, false);
		free(buf);
		n++;
	}
	closedir(d);
	CU_ASSERT(n >= 6);
}

static void test_synthesized_kernel_equals_host(void)
{
	static const int keys[][2] = { { 0, 13 }, { 1, 18 }, { 2, 11 }, { 3, 13 }, { 8, 10 },
				       { 9, 10 }, { 17, 1 }, { 18, 4 }, { 19, 7 }, { 20, 6 },
				       { 21, 2 }, { 24, 5 }, { 32, 4 }, { 33, 2 }, { 36, 2 },
				       { 23, 4 }, { 28, 5 }, { 37, 3 }, { 42, 2 }, { 43, 2 },
				       { 44, 1 }, { 45, 1 }, { 46, 0 }, { 47, 0 }, { 61, 0 } };
	struct kf_topic tp[2] = { { .name = "orders.eu", .partitions = 2, .record_bytes = 3000 },
				  { .name = "audit_log-v1", .partitions = 1, .record_bytes = 10 } };
	size_t cap = 1 << 20, len = 0;
	__u8 *buf = malloc(cap), tok[128];
	size_t tlen = kf_sasl_plain("", "kernel-user", "pw", tok, sizeof(tok));

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	memset(tp[0].id, 0xab, 16);
	memset(tp[1].id, 0xcd, 16);
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		for (int v = 0; v <= keys[k][1]; v++) {
			struct kf_req r = { .api_key = keys[k][0], .api_version = v, .corr = v,
					    .client_id = "kernel", .topics = tp, .ntopics = 2,
					    .group = "grp", .mechanism = "PLAIN", .auth = tok,
					    .auth_len = tlen, .resource_type = 2, .extra_tags = 1,
					    .ngroups = 2 };

			len += kf_build(&r, buf + len, cap - len);
		}
	}
	CU_ASSERT(len > 10000);
	compare("every covered version", buf, len, MSS, false);
	compare("every covered version", buf, len, 100, true);
	compare("every covered version", buf, len, 3, false);
	free(buf);
}

/*
 * Frames generated from Kafka's own message definitions (tests/conformance/conform.py
 * --emit, which make test-bpf writes first): every request key and version, one stream
 * per key, through the XDP decode probe in segments of several sizes; the kernel's events
 * must equal the host's.
 */
static void test_conformance_kernel_equals_host(void)
{
	const char *path = getenv("KGATE_CONFORM_STREAMS");
	size_t len = 0, off = 4;
	__u8 *buf = path ? du_read_file(path, &len) : NULL;
	__u32 n, streams = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf); /* make test-bpf writes the file */
	CU_ASSERT_FATAL(len >= 4);
	memcpy(&n, buf, 4);
	while (streams < n && off + 4 <= len) {
		__u32 sl;

		memcpy(&sl, buf + off, 4);
		off += 4;
		if (sl > len - off)
			break;
		if (!compare("conformance stream", buf + off, sl, MSS, streams & 1) ||
		    !compare("conformance stream", buf + off, sl, 61, !(streams & 1)))
			break;
		off += sl;
		streams++;
	}
	printf("\n    conformance: %u request streams, kernel = host\n", streams);
	CU_ASSERT_EQUAL(streams, n);
	CU_ASSERT(n >= 90);
	free(buf);
}

static void test_undecodable_in_kernel(void)
{
	static const __u8 hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc };
	char *k = kernel_render(hello, sizeof(hello), MSS, false);

	CU_ASSERT_STRING_EQUAL(k, "error tls_on_plaintext\n");
	free(k);
}

int register_topicless_tests(void); /* tests/bpf/test_topicless.c */

int main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("bpf decode probe", setup, teardown);
	if (!s || !CU_add_test(s, "verifier accepts the decoder in XDP", test_verifier_accepts) ||
	    !CU_add_test(s, "captures: kernel decoder equals host decoder",
			 test_fixtures_kernel_equals_host) ||
	    !CU_add_test(s, "every covered version: kernel equals host",
			 test_synthesized_kernel_equals_host) ||
	    !CU_add_test(s, "Kafka's definitions: kernel equals host",
			 test_conformance_kernel_equals_host) ||
	    !CU_add_test(s, "undecodable input reported from the kernel", test_undecodable_in_kernel) ||
	    register_topicless_tests())
		return 2;
	return cu_run();
}
