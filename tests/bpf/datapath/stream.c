// SPDX-License-Identifier: Apache-2.0
/*
 * The request stream across segments: split at every header byte, pipelined requests,
 * what the decoder cannot read (TLS, topics it does not read, a flow seen mid-stream).
 */
#include "harness.h"

/* The request split in two segments at every byte up to past the topic name. */
void test_split_at_every_header_byte(void)
{
	uint8_t b[PKT_CAP], got[PKT_CAP], want[PKT_CAP];
	size_t n = produce("eu.orders", b), e = name_end(b, n, "eu.orders");
	struct conn c;
	int bad = 0;

	apply_base(KG_MODE_ENFORCE);
	memcpy(want, b, n);
	want[e - 1] = '!';
	for (size_t cut = 1; cut < e + 8 && cut < n; cut++) {
		int evs;

		conn_open(&c, 4, "10.20.0.5", 0);
		CU_ASSERT_EQUAL(conn_send(&c, b, cut), XDP_PASS);
		memcpy(got, c.out + c.v.payload_off, c.v.payload_len);
		evs = dp.nev;
		CU_ASSERT(c.v.tcp_csum_ok);
		CU_ASSERT_EQUAL(conn_send(&c, b + cut, n - cut), XDP_PASS);
		memcpy(got + cut, c.out + c.v.payload_off, c.v.payload_len);
		evs += dp.nev;
		CU_ASSERT(c.v.tcp_csum_ok);
		if (memcmp(got, want, n) || evs != 1) {
			if (bad++ < 3) {
				fprintf(stderr,
					"\n    split at %zu (name ends %zu): %s, %d events:", cut,
					e, memcmp(got, want, n) ? "bytes differ" : "bytes ok", evs);
				for (int k = 0; k < dp.nev; k++)
					fprintf(stderr,
						" [kind %u verdict %u rule %d topic_len %u]",
						dp.ev[k].kind, dp.ev[k].verdict,
						(int)dp.ev[k].rule_id, dp.ev[k].topic_len);
			}
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
}

void test_pipelined(void)
{
	static const char *const eu[] = { "eu.y" };
	uint8_t b[PKT_CAP], want[PKT_CAP];
	size_t n = 0, e;
	struct conn c;

	apply_base(KG_MODE_ENFORCE);
	n += produce("public", b + n);
	n += req(KAFKA_METADATA, 4, eu, 1, b + n);
	e = name_end(b, n, "eu.y");
	n += produce("public", b + n);
	memcpy(want, b, n);
	want[e - 1] = '!';
	conn_open(&c, 4, "10.20.0.5", 0);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT(!memcmp(c.out + c.v.payload_off, want, n));
	CU_ASSERT_EQUAL(dp.nev, 3);
	check_event(1, KG_ACT_REJECT, 0, 1, KG_OP_DESCRIBE, "eu.y");
	check_event(2, KG_ACT_ALLOW, 6, 1, KG_OP_PRODUCE, "public");
}

/* A new connection's first bytes, which the decoder cannot read: reset, for reason. */
static void undecodable_reset(const uint8_t *bytes, size_t n, int reason)
{
	struct conn c;

	conn_open(&c, 4, "10.10.0.5", 0);
	CU_ASSERT_EQUAL(conn_send(&c, bytes, n), XDP_PASS);
	CU_ASSERT_EQUAL(c.v.flags & PKT_RST, PKT_RST);
	CU_ASSERT_EQUAL(dp.nev, 1);
	CU_ASSERT_EQUAL(dp.ev[0].kind, KG_EV_UNDECODABLE);
	CU_ASSERT_EQUAL(dp.ev[0].reason, reason);
}

void test_undecodable_resets(void)
{
	static const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc };
	uint8_t b[PKT_CAP];
	struct conn c;

	apply_base(KG_MODE_ENFORCE);
	undecodable_reset(hello, sizeof(hello), KD_ERR_TLS);
	/* let through under on_undecodable: allow, then reset once the policy says reset */
	{
		struct kg_policy p;

		base_policy(&p, KG_MODE_ENFORCE);
		p.listeners[0].on_undecodable = KG_ACT_ALLOW;
		CU_ASSERT_EQUAL_FATAL(dp_apply(&p), 0);
		conn_open(&c, 4, "10.10.0.5", 0);
		CU_ASSERT_EQUAL(conn_send(&c, hello, sizeof(hello)), XDP_PASS);
		CU_ASSERT_EQUAL(c.v.flags & PKT_RST, 0);
		CU_ASSERT_EQUAL(conn_send(&c, b, produce("public", b)), XDP_PASS);
		CU_ASSERT_EQUAL(c.v.flags & PKT_RST, 0); /* undecided, passed */
		p.listeners[0].on_undecodable = KG_ACT_RESET;
		CU_ASSERT_EQUAL_FATAL(dp_apply(&p), 0);
		CU_ASSERT_EQUAL(conn_send(&c, b, produce("public", b)), XDP_PASS);
		CU_ASSERT_EQUAL(c.v.flags & PKT_RST, PKT_RST);
		kg_policy_free(&p);
		apply_base(KG_MODE_ENFORCE);
	}
	/* a request whose topics the decoder cannot read (LeaderAndIsr v5, header only) */
	{
		static const uint8_t leader_and_isr[] = { 0, 0, 0, 14, 0, 4, 0, 5, 0, 0, 0, 9,
						       0, 1, 'x', 0, 0, 0 };

		undecodable_reset(leader_and_isr, sizeof(leader_and_isr), KD_ERR_TOPICS_UNREAD);
	}
	/* a flow first seen mid-stream */
	memset(&c, 0, sizeof(c));
	c.s = (struct pkt_spec){ .family = 4, .saddr = "10.10.0.6", .daddr = BROKER4,
				 .sport = dp.next_port++, .dport = PORT };
	c.next = 5000;
	CU_ASSERT_EQUAL(conn_send(&c, b, produce("public", b)), XDP_PASS);
	CU_ASSERT_EQUAL(c.v.flags & PKT_RST, PKT_RST);
	CU_ASSERT_EQUAL(dp.ev[0].reason, KD_ERR_MIDSTREAM);
}

/* An unsigned varint (the lengths in tagged fields). */
static void wuvarint(struct wbuf *w, uint32_t v)
{
	for (; v >= 0x80; v >>= 7)
		w->p[w->n++] = (v & 0x7f) | 0x80;
	w->p[w->n++] = v;
}

/* A FetchSnapshot v1 partition, then tagged-field bytes as given. */
static void snapshot_partition(struct wbuf *w, const uint8_t *tags, size_t ntags)
{
	w32(w, 0), w32(w, 1);            /* partition, current_leader_epoch */
	w32(w, 0), w32(w, 5), w32(w, 1); /* snapshot_id: end_offset (i64), epoch */
	wtf(w, 1);
	w32(w, 0), w32(w, 0); /* position */
	memcpy(w->p + w->n, tags, ntags), w->n += ntags;
}

/* A FetchSnapshot topic (v1) of one partition without tagged fields; its own TF after. */
static void snapshot_topic(struct wbuf *w, const char *name)
{
	static const uint8_t none = 0;

	wstr(w, 1, name);
	warr(w, 1, 1);
	snapshot_partition(w, &none, 1);
	wtf(w, 1);
}

/*
 * FetchSnapshot v1 (KRaft) of "__cluster_metadata", whose partition has the tagged field
 * replica_directory_id (tag 0, a uuid: the broker reads 16 bytes whatever size is
 * declared), then of a second topic. With size 16 the second topic is "public" for
 * everyone. With a larger size, a reader that skips by the size reads "public" while the
 * broker reads the uuid, "secret" in what follows it, and takes the rest for an unknown
 * tagged field at the top level.
 */
static size_t fetch_snapshot(uint8_t *out, int lie)
{
	uint8_t tail[256], hid[512], tags[600];
	struct wbuf w = { out, 0 }, t = { tail, 0 }, h = { hid, 0 }, g = { tags, 0 };

	wtf(&t, 1); /* the first topic's tagged fields */
	snapshot_topic(&t, "public");
	wtf(&t, 1); /* the top level's */
	memset(hid, 0x11, 16), h.n = 16;
	if (lie) {
		wtf(&h, 1);
		snapshot_topic(&h, "secret");
		wuvarint(&h, 1), wuvarint(&h, 7), wuvarint(&h, t.n);
	}
	wuvarint(&g, 1), wuvarint(&g, 0), wuvarint(&g, h.n);
	memcpy(tags + g.n, hid, h.n), g.n += h.n;

	wreq_flex(&w, KAFKA_FETCH_SNAPSHOT, 1);
	w32(&w, 1), w32(&w, 1 << 20); /* replica_id, max_bytes */
	warr(&w, 1, 2);
	wstr(&w, 1, "__cluster_metadata");
	warr(&w, 1, 1);
	snapshot_partition(&w, tags, g.n);
	memcpy(w.p + w.n, tail, t.n), w.n += t.n;
	wframe_end(&w);
	return w.n;
}

/*
 * A tagged field the broker knows, nested in a topic list, read by its type whatever size
 * it declares: a size that is not its type's would let kgate and the broker read
 * different topics, so it is undecodable (Fetch v17+ partitions, FetchSnapshot v1+).
 */
void test_known_tag_sizes(void)
{
	uint8_t b[PKT_CAP];
	struct conn c;
	size_t n;

	apply_base(KG_MODE_ENFORCE);
	n = fetch_snapshot(b, 0);
	conn_open(&c, 4, "10.10.1.5", 0); /* orders-svc: may admin */
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT_EQUAL(c.v.flags & PKT_RST, 0);
	CU_ASSERT_EQUAL(dp.nev, 2);
	check_event(0, KG_ACT_ALLOW, 3, 1, KG_OP_ADMIN, "__cluster_metadata");
	check_event(1, KG_ACT_ALLOW, 3, 1, KG_OP_ADMIN, "public");
	/* the first topic is decided, then its partition's field ends the request: reset */
	n = fetch_snapshot(b, 1);
	conn_open(&c, 4, "10.10.1.5", 0);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT_EQUAL(c.v.flags & PKT_RST, PKT_RST);
	CU_ASSERT_EQUAL(dp.nev, 2);
	check_event(0, KG_ACT_ALLOW, 3, 1, KG_OP_ADMIN, "__cluster_metadata");
	CU_ASSERT_EQUAL(dp.ev[1].kind, KG_EV_UNDECODABLE);
	CU_ASSERT_EQUAL(dp.ev[1].reason, KD_ERR_LEN_OVER);
}
