// SPDX-License-Identifier: Apache-2.0
/*
 * In-order normalization: out-of-order segments dropped, retransmissions passed only
 * with the bytes the decoder read unchanged (the NH hash), overlaps checked then decoded.
 */
#include <stdlib.h>

#include "harness.h"

void test_out_of_order_and_retransmission(void)
{
	uint8_t b[PKT_CAP], first[PKT_CAP], x[PKT_CAP];
	size_t n = produce("eu.orders", b), half = n / 2;
	struct conn c;
	__u64 ooo = counter(KG_C_OOO_DROPS), rdrop = counter(KG_C_RETX_DROPS);

	apply_base(KG_MODE_ENFORCE);
	conn_open(&c, 4, "10.20.0.5", 0);
	/* the second half first: ahead of next_seq, dropped */
	CU_ASSERT_EQUAL(conn_send_at(&c, c.next + half, b + half, n - half), XDP_DROP);
	CU_ASSERT_EQUAL(counter(KG_C_OOO_DROPS), ooo + 1);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	memcpy(first, c.out, c.outlen);
	CU_ASSERT_EQUAL(dp.nev, 1);
	/* an identical retransmission: passed, poisoned the same way, not decided again */
	CU_ASSERT_EQUAL(conn_send_at(&c, c.next - n, b, n), XDP_PASS);
	CU_ASSERT(!memcmp(c.out, first, c.outlen));
	CU_ASSERT_EQUAL(dp.nev, 0);
	/*
	 * The last byte the decoder read is the records' length (40, just before the
	 * records, skipped by it): another value there is dropped; other record bytes
	 * decided nothing and pass.
	 */
	CU_ASSERT_EQUAL(b[n - 41], 40);
	memcpy(x, b, n);
	x[n - 41] ^= 1;
	CU_ASSERT_EQUAL(conn_send_at(&c, c.next - n, x, n), XDP_DROP);
	CU_ASSERT_EQUAL(counter(KG_C_RETX_DROPS), rdrop + 1);
	memcpy(x, b, n);
	x[n - 40] ^= 0xff;
	x[n - 1] ^= 0xff;
	CU_ASSERT_EQUAL(conn_send_at(&c, c.next - n, x, n), XDP_PASS);
	CU_ASSERT_EQUAL(dp.nev, 0);
	/* the same bytes carrying an allowed name instead: dropped */
	memcpy(x, b, n);
	memcpy(x + name_end(x, n, "eu.orders") - 9, "pu.orders", 9);
	CU_ASSERT_EQUAL(conn_send_at(&c, c.next - n, x, n), XDP_DROP);
	CU_ASSERT_EQUAL(counter(KG_C_RETX_DROPS), rdrop + 2);

	/* the reverse: allowed first, then a retransmission naming a denied topic */
	conn_open(&c, 4, "10.20.0.5", 0);
	CU_ASSERT_EQUAL(conn_send(&c, x, n), XDP_PASS);
	check_event(0, KG_ACT_ALLOW, 6, 1, KG_OP_PRODUCE, "pu.orders");
	CU_ASSERT_EQUAL(conn_send_at(&c, c.next - n, b, n), XDP_DROP);

	/*
	 * Overlap: a retransmission of the first segment that also carries new bytes. The
	 * old part is checked (and made the same again), the new part decoded. When the old
	 * part differs, or starts inside what the decoder read of a segment, it is dropped.
	 */
	conn_open(&c, 4, "10.20.0.5", 0);
	CU_ASSERT_EQUAL(conn_send(&c, b, half), XDP_PASS);
	CU_ASSERT_EQUAL(conn_send_at(&c, c.next - half, x, n), XDP_DROP);
	CU_ASSERT_EQUAL(conn_send_at(&c, c.next - 4, b + half - 4, n - half + 4), XDP_DROP);
	CU_ASSERT_EQUAL(conn_send_at(&c, c.next - half, b, n), XDP_PASS);
	CU_ASSERT(!memcmp(c.out + c.v.payload_off, first + c.v.payload_off, n));
	CU_ASSERT(c.v.tcp_csum_ok);
	CU_ASSERT_EQUAL(dp.nev, 0); /* the topic was decided by the first segment */
	c.next += n - half;
	n = produce("public", x);
	CU_ASSERT_EQUAL(conn_send(&c, x, n), XDP_PASS); /* back on a frame boundary */
	check_event(0, KG_ACT_ALLOW, 6, 1, KG_OP_PRODUCE, "public");
}

/*
 * The retransmission hash over a request whose bytes read span several 64-byte blocks
 * and two windows: a change to any one of those bytes is dropped, a change past them
 * passes. Without a key (never written) no retransmission passes; writing a key keeps
 * one already written.
 */
void test_retx_every_byte(void)
{
	static char names[8][64];
	const char *topics[8];
	uint8_t b[PKT_CAP], x[PKT_CAP];
	struct kg_nhkey *key = calloc(1, sizeof(*key)), *again = calloc(1, sizeof(*again));
	__u32 zero = 0;
	size_t n, read_end, drops = 0, passes = 0;
	__u64 rdrop = counter(KG_C_RETX_DROPS);
	struct conn c;

	CU_ASSERT_FATAL(key && again);
	for (int i = 0; i < 8; i++) {
		snprintf(names[i], sizeof(names[i]), "t-%d-%.40s", i,
			 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP");
		topics[i] = names[i];
	}
	n = req(KAFKA_PRODUCE, 7, topics, 8, b);
	read_end = n - 40; /* the last topic's records are skipped by length */
	CU_ASSERT_FATAL(read_end > 4 * 64 + 64);
	apply_base(KG_MODE_ENFORCE);
	conn_open(&c, 4, "10.10.0.5", 0);
	CU_ASSERT_EQUAL_FATAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT_EQUAL(dp.nev, 8);
	for (size_t i = 0; i < n; i++) {
		memcpy(x, b, n);
		x[i] ^= 0x5a;
		if (conn_send_at(&c, c.next - n, x, n) == (i < read_end ? XDP_DROP : XDP_PASS))
			*(i < read_end ? &drops : &passes) += 1;
		else
			printf("\n    byte %zu of %zu (bytes read: %zu): wrong verdict\n", i, n,
			       read_end);
	}
	CU_ASSERT_EQUAL(drops, read_end);
	CU_ASSERT_EQUAL(passes, n - read_end);
	CU_ASSERT_EQUAL(counter(KG_C_RETX_DROPS), rdrop + read_end);
	CU_ASSERT_EQUAL(conn_send_at(&c, c.next - n, b, n), XDP_PASS); /* still recognised */
	CU_ASSERT_EQUAL(dp.nev, 0);

	/* the key: written once (ready, not all zero), kept by a second kg_nhkey_init */
	CU_ASSERT_EQUAL_FATAL(bpf_map_lookup_elem(dp.m.nhkey, &zero, key), 0);
	CU_ASSERT_EQUAL(key->ready, 1);
	{
		__u32 any = 0;

		for (size_t i = 0; i < KG_NH_KEY_WORDS; i++)
			any |= key->k[i];
		CU_ASSERT(any != 0);
	}
	CU_ASSERT_EQUAL(kg_nhkey_init(dp.m.nhkey), 0);
	CU_ASSERT_EQUAL_FATAL(bpf_map_lookup_elem(dp.m.nhkey, &zero, again), 0);
	CU_ASSERT(!memcmp(key, again, sizeof(*key)));

	/* no key: an identical retransmission is dropped (nothing can tell it is one) */
	again->ready = 0;
	CU_ASSERT_EQUAL_FATAL(bpf_map_update_elem(dp.m.nhkey, &zero, again, BPF_ANY), 0);
	conn_open(&c, 4, "10.10.0.5", 0);
	CU_ASSERT_EQUAL(conn_send(&c, b, n), XDP_PASS);
	CU_ASSERT_EQUAL(conn_send_at(&c, c.next - n, b, n), XDP_DROP);
	CU_ASSERT_EQUAL_FATAL(bpf_map_update_elem(dp.m.nhkey, &zero, key, BPF_ANY), 0);
	free(key);
	free(again);
}

/*
 * One retransmission covering two remembered segments: the second one's bytes read
 * start mid-block in the window the first one's hash left, and its last block is short
 * and lies past where a block may start in the window (a review found it read from the
 * wrong place: the identical copy dropped, the tail unchecked). Then the identical copy
 * passes and a change to any of its last bytes read is dropped.
 */
void test_retx_two_segments(void)
{
	static char names[3][80];
	const char *topics[3];
	uint8_t b[PKT_CAP], x[PKT_CAP];
	size_t n = 0, read_end = 0;
	const size_t a = 10; /* the first segment: size, api key, version, correlation id */
	struct conn c;

	/* names long enough that the second segment reads 193..255 bytes, not whole blocks */
	for (int len = 8; len < 70; len++) {
		for (int i = 0; i < 3; i++) {
			snprintf(names[i], sizeof(names[i]), "s-%d-%.*s", i, len,
				 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
				 "abcdefghijklmnopqrstuvwxyz");
			topics[i] = names[i];
		}
		n = req(KAFKA_PRODUCE, 7, topics, 3, b);
		read_end = n - 40;
		if (read_end - a > 192 && read_end - a < 256 && (read_end - a) % 64)
			break;
	}
	CU_ASSERT_FATAL(read_end - a > 192 && read_end - a < 256 && (read_end - a) % 64);
	apply_base(KG_MODE_ENFORCE);
	conn_open(&c, 4, "10.10.0.5", 0);
	CU_ASSERT_EQUAL_FATAL(conn_send(&c, b, a), XDP_PASS);
	CU_ASSERT_EQUAL_FATAL(conn_send(&c, b + a, n - a), XDP_PASS);
	CU_ASSERT_EQUAL(dp.nev, 3);
	CU_ASSERT_EQUAL(conn_send_at(&c, c.next - n, b, n), XDP_PASS);
	CU_ASSERT_EQUAL(dp.nev, 0);
	for (size_t i = read_end - 24; i < n; i++) {
		memcpy(x, b, n);
		x[i] ^= 0x21;
		CU_ASSERT_EQUAL(conn_send_at(&c, c.next - n, x, n),
				i < read_end ? XDP_DROP : XDP_PASS);
	}
	CU_ASSERT_EQUAL(conn_send_at(&c, c.next - n, b, n), XDP_PASS);
}
