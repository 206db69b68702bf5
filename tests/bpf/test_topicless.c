// SPDX-License-Identifier: Apache-2.0
/*
 * `topics: none` on the real datapath (root). The compiler gives requests that name no
 * topic a class of their own without any change to the datapath's lookup (see the file
 * comment of agent/policy/compile.c): the datapath still looks such a request up as gen
 * alone, and topic names are taken to class 0 by two catch-all entries. This proves it
 * against the kernel:
 *
 *  - the kg_topics LPM trie of a loaded kgate_xdp answers every lookup the datapath
 *    makes (gen alone; gen, name, 0) with the class the compiler's model gives, over
 *    random policies with and without `topics: none`, names of any first byte included;
 *  - through BPF_PROG_RUN of kgate_xdp (TC egress confirms each SYN): InitProducerId,
 *    FindCoordinator, ListGroups and an all-topics Metadata are decided by the
 *    topic-less rules, a Produce to a topic no pattern names never by a `topics: none`
 *    allow (the request it must not let through), and a `topics: none` redirect never
 *    redirects a connection at its SYN.
 */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include "agent/datapath/events.h"
#include "agent/policy/policy.h"
#include "agent/policy/write.h"
#include "agent/policy/yaml.h"
#include "agent/datapath/datapath.h"
#include "bpf/kafka_layouts.h"
#include "tests/lib/kframe.h"
#include "kgate_tc.skel.h"
#include "kgate_xdp.skel.h"
#include "tests/lib/pkt.h"

#define TL_PORT 9092
#define TL_BROKER "10.99.0.1"
#define TL_CAP 2048
/* Random policies of the trie differential, and lookups per policy. */
#define TL_POLICIES 300
#define TL_LOOKUPS 200

static struct {
	struct kgate_xdp_bpf *xdp;
	struct kgate_tc_bpf *tc;
	struct kg_maps m;
	struct ring_buffer *rb;
	char pin[64];
	struct kg_event ev[8];
	int nev;
	__u32 version;
	uint16_t port;
} tl = { .m = { .active = -1 } };

static void tl_event(void *ctx, const struct kg_event *e)
{
	(void)ctx;
	if (tl.nev < 8)
		tl.ev[tl.nev] = *e;
	tl.nev++;
}

static int tl_record(void *ctx, void *data, size_t size)
{
	return kg_events_each(data, size, tl_event, ctx) < 0 ? -1 : 0;
}

static int tl_down(void)
{
	struct dirent *e;
	DIR *d;

	ring_buffer__free(tl.rb);
	if (tl.m.active >= 0)
		kg_maps_close(&tl.m);
	kgate_tc_bpf__destroy(tl.tc);
	kgate_xdp_bpf__destroy(tl.xdp);
	/* every pin the skeletons made lives in this test's own directory */
	d = opendir(tl.pin);
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
	rmdir(tl.pin);
	return 0;
}

static int tl_up(void)
{
	LIBBPF_OPTS(bpf_object_open_opts, o);
	char err[256];

	snprintf(tl.pin, sizeof(tl.pin), "/sys/fs/bpf/kgtl-%d", getpid());
	if (kg_bpffs_ensure(tl.pin, err, sizeof(err)) || (mkdir(tl.pin, 0700) && errno != EEXIST)) {
		fprintf(stderr, "test_topicless: %s: %s\n", tl.pin, err);
		return -1;
	}
	o.pin_root_path = tl.pin;
	/* TC egress shares the maps XDP pinned: it confirms each SYN with the SYN-ACK */
	tl.xdp = kgate_xdp_bpf__open_opts(&o);
	if (!tl.xdp || kgate_xdp_bpf__load(tl.xdp))
		goto fail;
	tl.tc = kgate_tc_bpf__open_opts(&o);
	if (!tl.tc || kgate_tc_bpf__load(tl.tc))
		goto fail;
	if (kg_maps_open_pinned(&tl.m, tl.pin, err, sizeof(err)) || kg_nhkey_init(tl.m.nhkey) ||
	    kg_pool_fill(tl.m.pool_free))
		goto fail;
	tl.rb = ring_buffer__new(tl.m.events, tl_record, NULL, NULL);
	tl.port = 41000;
	if (tl.rb)
		return 0;
fail:
	fprintf(stderr, "test_topicless: loading the datapath: %s\n", strerror(errno));
	tl_down(); /* CUnit runs no cleanup after a failed setup */
	return -1;
}

/* Compiles a policy and makes it the active generation. */
static int tl_apply_compiled(const struct kg_compiled *c)
{
	char err[256];
	int gen = 1 - kg_policy_active(&tl.m);

	if (kg_policy_write(&tl.m, c, gen, ++tl.version, err, sizeof(err))) {
		fprintf(stderr, "policy write: %s\n", err);
		return -1;
	}
	return kg_policy_activate(&tl.m, gen);
}

/* ---- the trie answers as the model -------------------------------------------------- */

/* The kg_topics key kg_decide builds: gen, name, 0 (prefixlen 8 * (len + 2)), or gen. */
static void lookup_key(__u8 gen, const char *topic, struct kg_topic_key *k)
{
	memset(k, 0, sizeof(*k));
	k->data[0] = gen;
	if (!topic) {
		k->prefixlen = 8;
		return;
	}
	memcpy(k->data + 1, topic, strlen(topic));
	k->prefixlen = 8 * (strlen(topic) + 2);
}

static unsigned int tl_rnd(unsigned int *s, unsigned int n)
{
	*s = *s * 1103515245u + 12345u;
	return (*s >> 8) % n;
}

/* A name over a small alphabet, so that names fall under the patterns often. */
static void tl_name(unsigned int *s, char *buf, int maxlen)
{
	static const char abc[] = "ab.\x7f\x80\xff";
	int n = (int)tl_rnd(s, (unsigned int)maxlen + 1);

	for (int i = 0; i < n; i++)
		buf[i] = abc[tl_rnd(s, 6)];
	buf[n] = 0;
}

static void test_trie_equals_model(void)
{
	unsigned int seed = (unsigned int)getpid(), s = seed;
	long lookups = 0, topicless = 0, wrong = 0, with_none = 0;
	char name[16];

	printf("\n    trie differential seed %u\n", seed);
	for (int pol = 0; pol < TL_POLICIES; pol++) {
		struct kg_policy p;
		struct kg_compiled c;
		char err[256];

		kg_policy_init(&p);
		p.listeners[0].port = TL_PORT;
		p.nlisteners = 1;
		for (int i = 1 + (int)tl_rnd(&s, 8); i > 0; i--) {
			struct kg_prule *r = kg_policy_add_rule(&p, "r", 1, 1);

			if (!tl_rnd(&s, 4)) {
				r->topics_none = true;
				continue;
			}
			for (int k = (int)tl_rnd(&s, 3); k > 0; k--) {
				tl_name(&s, name, 3);
				/* a pattern is a Kafka name: the high bytes only come in requests */
				for (char *q = name; *q; q++)
					*q = (*q & 0x80) || *q == 0x7f ? 'b' : *q;
				/* "", "." and ".." are no topic names: prefixes then */
				if (strspn(name, ".") == strlen(name) ||
				    tl_rnd(&s, 2))
					strcat(name, "*");
				kg_strv_push(&r->topics, &r->ntopics, name);
			}
		}
		if (kg_compile(&p, &c, err, sizeof(err)))
			fprintf(stderr, "\n    policy %d: %s", pol, err);
		CU_ASSERT_EQUAL_FATAL(kg_compile(&p, &c, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL_FATAL(tl_apply_compiled(&c), 0);
		with_none += c.topicless_class != 0;
		for (int q = 0; q < TL_LOOKUPS; q++) {
			__u8 gen = (__u8)kg_policy_active(&tl.m);
			const char *topic = NULL;
			struct kg_topic_key k;
			struct kg_class_ref ref;

			if (tl_rnd(&s, 8)) {
				tl_name(&s, name, 4);
				topic = name;
			} else {
				topicless++;
			}
			lookup_key(gen, topic, &k);
			lookups++;
			if (bpf_map_lookup_elem(tl.m.topics, &k, &ref) ||
			    ref.class_id != kg_compiled_class_of(&c, topic)) {
				if (wrong++ < 5)
					fprintf(stderr, "\n    policy %d, %s: trie %u, model %u", pol,
						topic ? topic : "(no topic)", ref.class_id,
						kg_compiled_class_of(&c, topic));
			}
		}
		kg_compiled_free(&c);
		kg_policy_free(&p);
	}
	printf("    %ld lookups (%ld naming no topic), %ld policies with topics: none, %ld "
	       "differ\n",
	       lookups, topicless, with_none, wrong);
	CU_ASSERT_EQUAL(wrong, 0);
	CU_ASSERT(topicless > lookups / 20 && with_none > TL_POLICIES / 4 &&
		  with_none < TL_POLICIES);
}

/* ---- requests through kgate_xdp ------------------------------------------------------- */

struct tl_conn {
	struct pkt_spec s;
	uint32_t next;
};

static int tl_run(int prog, const uint8_t *pkt, size_t len)
{
	uint8_t out[TL_CAP];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);

	tl.nev = 0;
	if (bpf_prog_test_run_opts(prog, &o))
		return -1;
	ring_buffer__consume(tl.rb);
	return (int)o.retval;
}

/*
 * SYN through XDP (its verdict returned), the broker's SYN-ACK through TC egress; the
 * first data acknowledges it, which completes the handshake.
 */
static int tl_open(struct tl_conn *c, const char *saddr)
{
	uint8_t pkt[TL_CAP];
	struct pkt_spec ack;
	int v;

	memset(c, 0, sizeof(*c));
	c->s = (struct pkt_spec){ .family = 4, .saddr = saddr, .daddr = TL_BROKER,
				  .sport = tl.port++, .dport = TL_PORT, .seq = 500,
				  .flags = PKT_SYN };
	v = tl_run(bpf_program__fd(tl.xdp->progs.kgate_xdp), pkt,
		   pkt_build(pkt, &c->s, NULL, 0));
	ack = (struct pkt_spec){ .family = 4, .saddr = TL_BROKER, .daddr = saddr,
				 .sport = TL_PORT, .dport = c->s.sport, .seq = 9000,
				 .flags = PKT_SYN | PKT_ACK, .ack = 501 };
	CU_ASSERT_EQUAL(tl_run(bpf_program__fd(tl.tc->progs.kgate_tc_egress), pkt,
			       pkt_build(pkt, &ack, NULL, 0)),
			TC_ACT_OK);
	c->next = 501;
	c->s.ack = 9001;
	return v;
}

static int tl_send(struct tl_conn *c, const uint8_t *data, size_t len)
{
	uint8_t pkt[TL_CAP];

	c->s.seq = c->next;
	c->s.flags = PKT_ACK | PKT_PSH;
	c->next += (uint32_t)len;
	return tl_run(bpf_program__fd(tl.xdp->progs.kgate_xdp), pkt,
		      pkt_build(pkt, &c->s, data, len));
}

/*
 * A frame whose body names no topic, with a v1 header (these versions are not
 * flexible): the datapath decides it by its api key alone and skips the body by size.
 */
static size_t plain_frame(int16_t key, int16_t ver, const uint8_t *body, size_t blen,
			  uint8_t *out)
{
	static const char cid[] = "app";
	size_t n = 4;

	out[n++] = (uint8_t)(key >> 8), out[n++] = (uint8_t)key;
	out[n++] = (uint8_t)(ver >> 8), out[n++] = (uint8_t)ver;
	memcpy(out + n, "\0\0\0\x2a", 4), n += 4; /* correlation id 42 */
	out[n++] = 0, out[n++] = sizeof(cid) - 1;
	memcpy(out + n, cid, sizeof(cid) - 1), n += sizeof(cid) - 1;
	memcpy(out + n, body, blen), n += blen;
	out[0] = out[1] = 0;
	out[2] = (uint8_t)((n - 4) >> 8), out[3] = (uint8_t)(n - 4);
	return n;
}

/* The policy of the request tests, through the YAML loader as a user writes it. */
static const char tl_policy[] = "version: topicless-1\n"
				"default: reject\n"
				"audit: {allow: all}\n"
				"listeners:\n"
				"  - port: 9092\n"
				"regions:\n"
				"  quarantined: [10.30.0.0/16]\n"
				"rules:\n"
				"  - name: quarantine-topicless\n" /* 0 */
				"    topics: none\n"
				"    regions: [quarantined]\n"
				"    action: redirect\n"
				"  - name: no-secrets\n" /* 1 */
				"    topics: [\"secret.*\"]\n"
				"    action: reject\n"
				"  - name: plumbing\n" /* 2 */
				"    topics: none\n"
				"    operations: [produce, consume]\n"
				"    action: allow\n"
				"  - name: orders\n" /* 3 */
				"    topics: [\"orders.*\"]\n"
				"    action: allow\n";

/* One request, one event of kind, verdict and rule (~0u: the default decided). */
static void expect_decision(struct tl_conn *c, const uint8_t *b, size_t n, int kind, int verdict,
			    __u32 rule)
{
	int v = tl_send(c, b, n);

	if (tl.nev != 1)
		fprintf(stderr, "\n    %zu bytes: XDP %d, %d events, want 1", n, v, tl.nev);
	CU_ASSERT_EQUAL(tl.nev, 1);
	if (tl.nev != 1)
		return;
	if (tl.ev[0].kind != kind || tl.ev[0].verdict != verdict || tl.ev[0].rule_id != rule)
		fprintf(stderr, "\n    api %u: kind %u verdict %u rule %d; want %d %d %d",
			tl.ev[0].api_key, tl.ev[0].kind, tl.ev[0].verdict, (int)tl.ev[0].rule_id,
			kind, verdict, (int)rule);
	CU_ASSERT_EQUAL(tl.ev[0].kind, kind);
	CU_ASSERT_EQUAL(tl.ev[0].verdict, verdict);
	CU_ASSERT_EQUAL(tl.ev[0].rule_id, rule);
}

static void test_requests(void)
{
	/* InitProducerId v1: null transactional id, timeout; FindCoordinator v1: key, type */
	static const uint8_t init_pid[] = { 0xff, 0xff, 0, 0, 0xea, 0x60 };
	static const uint8_t find_coord[] = { 0, 1, 'g', 0 };
	const struct kf_topic zzz = { .name = "zzz", .partitions = 1, .record_bytes = 8 };
	const struct kf_topic orders = { .name = "orders.eu", .partitions = 1, .record_bytes = 8 };
	struct kf_req produce = { .api_key = KAFKA_PRODUCE, .api_version = 7, .corr = 5,
				  .client_id = "app", .ntopics = 1 };
	struct kf_req metadata = { .api_key = KAFKA_METADATA, .api_version = 4, .corr = 6,
				   .client_id = "app", .ntopics = -1 };
	struct kg_policy p;
	struct kg_compiled c;
	struct tl_conn conn;
	uint8_t b[TL_CAP];
	char err[256];

	CU_ASSERT_FATAL(kg_policy_parse_yaml(tl_policy, sizeof(tl_policy) - 1, &p, err,
					     sizeof(err)) == 0);
	CU_ASSERT_FATAL(kg_compile(&p, &c, err, sizeof(err)) == 0);
	CU_ASSERT_FATAL(c.topicless_class != 0);
	CU_ASSERT_FATAL(tl_apply_compiled(&c) == 0);

	CU_ASSERT_EQUAL(tl_open(&conn, "10.10.0.5"), XDP_PASS);
	expect_decision(&conn, b, plain_frame(22, 1, init_pid, sizeof(init_pid), b),
			KG_EV_REQUEST, KG_ACT_ALLOW, 2);
	expect_decision(&conn, b, plain_frame(10, 1, find_coord, sizeof(find_coord), b),
			KG_EV_REQUEST, KG_ACT_ALLOW, 2);
	produce.topics = &orders;
	expect_decision(&conn, b, kf_build(&produce, b, sizeof(b)), KG_EV_TOPIC, KG_ACT_ALLOW, 3);
	/* the request topics: none must not let through: a topic no pattern names */
	produce.topics = &zzz;
	expect_decision(&conn, b, kf_build(&produce, b, sizeof(b)), KG_EV_TOPIC, KG_ACT_REJECT,
			~0u);
	CU_ASSERT_EQUAL(tl.ev[0].op, KG_OP_PRODUCE);
	/*
	 * describe names no topic: ListGroups v0 (header only), then Metadata for all
	 * topics. The default rejects them; with no topic to poison, that is a reset.
	 */
	CU_ASSERT_EQUAL(tl_open(&conn, "10.10.0.6"), XDP_PASS);
	expect_decision(&conn, b, plain_frame(16, 0, NULL, 0, b), KG_EV_REQUEST, KG_ACT_RESET,
			~0u);
	CU_ASSERT_EQUAL(tl_open(&conn, "10.10.0.7"), XDP_PASS);
	expect_decision(&conn, b, kf_build(&metadata, b, sizeof(b)), KG_EV_REQUEST, KG_ACT_RESET,
			~0u);

	/* a topics: none redirect decides requests, never a connection at its SYN */
	CU_ASSERT_EQUAL(tl_open(&conn, "10.30.0.9"), XDP_PASS);
	CU_ASSERT_EQUAL(tl.nev, 0);
	expect_decision(&conn, b, plain_frame(22, 1, init_pid, sizeof(init_pid), b),
			KG_EV_REQUEST, KG_ACT_REDIRECT, 0);
	kg_compiled_free(&c);
	kg_policy_free(&p);
}

/* Registered by the BPF suite's runner (tests/bpf/test_bpf.c). */
int register_topicless_tests(void)
{
	CU_pSuite s = CU_add_suite("topics: none on the datapath", tl_up, tl_down);

	if (!s || !CU_add_test(s, "the kg_topics trie answers as the model", test_trie_equals_model) ||
	    !CU_add_test(s, "requests naming no topic, and topics no pattern names", test_requests))
		return -1;
	return 0;
}
