// SPDX-License-Identifier: Apache-2.0
/*
 * Classic pcap -> client->server TCP streams (agent/decode/pcap.h). Written from the pcap
 * file format (pcap-savefile(5), pcap-linktype(7)) and RFC 793's sequence space, to answer
 * exactly as scripts/pcap_streams.py does; tests/cli/test_pcap.py compares the two.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/decode/pcap.h"

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
#define PCAPNG_MAGIC 0x0a0d0d0au
#define PCAP_HDR_LEN 24
#define PCAP_REC_LEN 16

#define LINKTYPE_NULL 0
#define LINKTYPE_ETHERNET 1
#define LINKTYPE_RAW_OLD 12
#define LINKTYPE_RAW 101
#define LINKTYPE_LINUX_SLL 113
#define LINKTYPE_IPV4 228
#define LINKTYPE_IPV6 229
#define LINKTYPE_LINUX_SLL2 276

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86dd
#define ETH_8021Q 0x8100
#define ETH_8021AD 0x88a8

#define PROTO_TCP 6
#define IPV6_FRAGMENT 44

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

static int fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return -1;
}

static __u16 be16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

static __u32 be32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

static __u32 le32(const __u8 *p)
{
	return (__u32)p[3] << 24 | (__u32)p[2] << 16 | (__u32)p[1] << 8 | p[0];
}

/* The IP packet in a link-layer frame: its offset, or -1 when it is not IP. */
static long link_to_ip(__u32 linktype, const __u8 *pkt, size_t len)
{
	__u16 etype;
	size_t off;
	__u32 fam;

	switch (linktype) {
	case LINKTYPE_ETHERNET:
		if (len < 14)
			return -1;
		etype = be16(pkt + 12);
		for (off = 14; (etype == ETH_8021Q || etype == ETH_8021AD) && len >= off + 4;
		     off += 4)
			etype = be16(pkt + off + 2);
		return etype == ETH_IPV4 || etype == ETH_IPV6 ? (long)off : -1;
	case LINKTYPE_LINUX_SLL:
		if (len < 16)
			return -1;
		etype = be16(pkt + 14);
		return etype == ETH_IPV4 || etype == ETH_IPV6 ? 16 : -1;
	case LINKTYPE_LINUX_SLL2:
		if (len < 20)
			return -1;
		etype = be16(pkt);
		return etype == ETH_IPV4 || etype == ETH_IPV6 ? 20 : -1;
	case LINKTYPE_NULL:
		if (len < 4)
			return -1;
		/* the address family in the writer's byte order: 2 is AF_INET; 24, 28 and 30
		 * are AF_INET6 on the BSDs and macOS */
		fam = le32(pkt);
		if (fam > 0xffff)
			fam = be32(pkt);
		return fam == 2 || fam == 24 || fam == 28 || fam == 30 ? 4 : -1;
	default: /* raw IP: the caller checked the link type */
		return 0;
	}
}

struct tcp_seg {
	__u8 family;
	const __u8 *src, *dst; /* 4 or 16 bytes */
	const __u8 *tcp;
	size_t len;
};

/* IP -> TCP: 1 with s filled, 0 when it is not TCP, -1 with err set. */
static int ip_to_tcp(const __u8 *ip, size_t len, struct tcp_seg *s, char *err, size_t errlen)
{
	size_t off, end;
	__u8 nxt;

	if (!len)
		return 0;
	if (ip[0] >> 4 == 4) {
		if (len < 20)
			return 0;
		off = (size_t)(ip[0] & 0x0f) * 4;
		end = be16(ip + 2);
		if (ip[9] != PROTO_TCP)
			return 0;
		if (be16(ip + 6) & 0x3fff)
			/* tcpdump on lo never sees them; reassembling IP is out of scope */
			return fail(err, errlen, "IPv4 fragment in capture; not supported");
		s->family = 4;
		s->src = ip + 12;
		s->dst = ip + 16;
	} else if (ip[0] >> 4 == 6) {
		if (len < 40)
			return 0;
		end = 40 + (size_t)be16(ip + 4);
		nxt = ip[6];
		off = 40;
		/* hop-by-hop, routing, destination options: "next, length in 8 octets - 1" */
		while (nxt == 0 || nxt == 43 || nxt == 60) {
			if (off + 1 >= len)
				return fail(err, errlen, "IPv6 extension header cut short");
			nxt = ip[off];
			off += ((size_t)ip[off + 1] + 1) * 8;
		}
		if (nxt == IPV6_FRAGMENT)
			return fail(err, errlen, "IPv6 fragment in capture; not supported");
		if (nxt != PROTO_TCP)
			return 0;
		s->family = 6;
		s->src = ip + 8;
		s->dst = ip + 24;
	} else {
		return 0;
	}
	/* the IP length, not the frame's: Ethernet pads short frames to 60 bytes */
	if (end > len)
		end = len;
	s->tcp = ip + off;
	s->len = end > off ? end - off : 0;
	return 1;
}

/* a - b of two sequence numbers, in -2^31 .. 2^31 - 1 */
static __s32 seq_diff(__u32 a, __u32 b)
{
	return (__s32)(a - b);
}

/* The lowest sequence number among c's segments, compared around the first one. */
static __u32 lowest_seq(const struct kg_pcap_conn *c)
{
	__u32 first = c->segs[0].seq;
	__s32 low = 0;

	for (size_t i = 0; i < c->nsegs; i++)
		if (seq_diff(c->segs[i].seq, first) < low)
			low = seq_diff(c->segs[i].seq, first);
	return first + (__u32)low;
}

/* Whether a client SYN with syn_seq opens a new connection on c's tuple (port reuse)
 * rather than being a late copy of c's own SYN. */
static bool reused_by(const struct kg_pcap_conn *c, __u32 syn_seq)
{
	if (c->have_isn)
		return syn_seq != c->isn;
	if (!c->closed)
		return false;
	if (!c->nsegs)
		return true;
	/* no SYN seen yet: it belongs here if it precedes our lowest byte */
	return syn_seq + 1 != lowest_seq(c);
}

static struct kg_pcap_conn *find_conn(struct kg_pcap *p, __u8 family, const __u8 *client,
				      __u16 cport, const __u8 *server, __u16 sport)
{
	size_t alen = family == 4 ? 4 : 16;

	/* the newest connection on a tuple is the one its packets belong to */
	for (size_t i = p->nconns; i-- > 0;) {
		struct kg_pcap_conn *c = &p->conns[i];

		if (c->family == family && c->cport == cport && c->sport == sport &&
		    !memcmp(c->addr[0], client, alen) && !memcmp(c->addr[1], server, alen))
			return c;
	}
	return NULL;
}

static struct kg_pcap_conn *new_conn(struct kg_pcap *p, __u8 family, const __u8 *client,
				     __u16 cport, const __u8 *server, __u16 sport)
{
	int af = family == 4 ? AF_INET : AF_INET6;
	size_t alen = family == 4 ? 4 : 16;
	struct kg_pcap_conn *c;

	if (p->nconns >= KG_PCAP_MAX_CONNS)
		return NULL;
	p->conns = kg_grow(p->conns, p->nconns, sizeof(*p->conns));
	if (!p->conns)
		return NULL;
	c = &p->conns[p->nconns];
	memset(c, 0, sizeof(*c));
	c->num = (unsigned)++p->nconns;
	c->family = family;
	c->cport = cport;
	c->sport = sport;
	memcpy(c->addr[0], client, alen);
	memcpy(c->addr[1], server, alen);
	inet_ntop(af, client, c->client, sizeof(c->client));
	inet_ntop(af, server, c->server, sizeof(c->server));
	return c;
}

/* One TCP segment of the capture: to its connection (client -> server data kept). */
static int add_segment(struct kg_pcap *p, const struct tcp_seg *s, __u16 port, __u64 frame,
		       char *err, size_t errlen)
{
	const __u8 *t = s->tcp;
	__u16 sp, dp;
	__u32 seq;
	size_t doff;
	__u8 flags;
	bool to_server, syn;
	struct kg_pcap_conn *c;

	if (s->len < 20)
		return 0;
	sp = be16(t);
	dp = be16(t + 2);
	seq = be32(t + 4);
	doff = (size_t)(t[12] >> 4) * 4;
	flags = t[13];
	to_server = dp == port;
	if (!to_server && sp != port)
		return 0;
	c = to_server ? find_conn(p, s->family, s->src, sp, s->dst, dp)
		      : find_conn(p, s->family, s->dst, dp, s->src, sp);
	syn = (flags & TCP_SYN) && !(flags & TCP_ACK) && to_server;
	if (!c || (syn && reused_by(c, seq))) {
		c = to_server ? new_conn(p, s->family, s->src, sp, s->dst, dp)
			      : new_conn(p, s->family, s->dst, dp, s->src, sp);
		if (!c)
			return fail(err, errlen,
				    "more than %d connections to port %u (filter the capture "
				    "first: tcpdump -r IN -w OUT 'tcp port %u and host H')",
				    KG_PCAP_MAX_CONNS, port, port);
	}
	if (!to_server)
		return 0;
	if (flags & TCP_SYN) {
		c->isn = seq;
		c->have_isn = true;
		seq++; /* a SYN's own payload (TCP Fast Open) starts at ISN + 1 */
	}
	if (flags & (TCP_FIN | TCP_RST))
		c->closed = true;
	if (doff >= s->len)
		return 0;
	c->segs = kg_grow(c->segs, c->nsegs, sizeof(*c->segs));
	if (!c->segs)
		return fail(err, errlen, "out of memory");
	c->segs[c->nsegs++] = (struct kg_pcap_seg){
		.seq = seq,
		.len = (__u32)(s->len - doff),
		.off = (size_t)(t + doff - p->data),
		.frame = frame,
	};
	return 0;
}

static int read_file(struct kg_pcap *p, const char *path, char *err, size_t errlen)
{
	size_t len;
	int e;
	char *d = kg_read_file(path, KG_PCAP_MAX_BYTES, &len, &e);

	if (!d)
		return fail(err, errlen, "%s: %s", path,
			    e == -EFBIG ? "larger than 1 GiB" : strerror(-e));
	p->data = (__u8 *)d;
	p->len = len;
	return 0;
}

int kg_pcap_open(struct kg_pcap *p, const char *path, __u16 port, char *err, size_t errlen)
{
	__u32 (*rd32)(const __u8 *) = le32;
	__u32 magic, snaplen, linktype;
	size_t off = PCAP_HDR_LEN;
	__u64 num = 0;

	memset(p, 0, sizeof(*p));
	if (read_file(p, path, err, errlen))
		return -1;
	if (p->len < PCAP_HDR_LEN) {
		fail(err, errlen, "%s: too short for a pcap header", path);
		goto bad;
	}
	magic = le32(p->data);
	if (magic == PCAPNG_MAGIC) {
		fail(err, errlen, "%s: pcapng is not supported; convert with editcap -F pcap",
		     path);
		goto bad;
	}
	if (magic != PCAP_MAGIC_US && magic != PCAP_MAGIC_NS) {
		rd32 = be32;
		if (be32(p->data) != PCAP_MAGIC_US && be32(p->data) != PCAP_MAGIC_NS) {
			fail(err, errlen, "%s: bad magic 0x%08x", path, magic);
			goto bad;
		}
	}
	snaplen = rd32(p->data + 16);
	/* the top bits of the link-type field carry FCS information (pcap-linktype(7)) */
	linktype = rd32(p->data + 20) & 0x0fffffff;
	while (off < p->len) {
		__u32 incl, orig;
		struct tcp_seg s;
		long ipoff;
		int r;

		if (p->len - off < PCAP_REC_LEN) {
			fail(err, errlen, "%s: truncated record header after frame %llu", path,
			     (unsigned long long)num);
			goto bad;
		}
		incl = rd32(p->data + off + 8);
		orig = rd32(p->data + off + 12);
		off += PCAP_REC_LEN;
		num++;
		if (p->len - off < incl) {
			fail(err, errlen, "%s: frame %llu truncated in file", path,
			     (unsigned long long)num);
			goto bad;
		}
		if (incl < orig) {
			/* a cut packet would lose stream bytes without a word */
			fail(err, errlen,
			     "%s: frame %llu captured %u of %u bytes (snaplen %u); capture with -s 0",
			     path, (unsigned long long)num, incl, orig, snaplen);
			goto bad;
		}
		switch (linktype) {
		case LINKTYPE_NULL:
		case LINKTYPE_ETHERNET:
		case LINKTYPE_RAW_OLD:
		case LINKTYPE_RAW:
		case LINKTYPE_LINUX_SLL:
		case LINKTYPE_IPV4:
		case LINKTYPE_IPV6:
		case LINKTYPE_LINUX_SLL2:
			break;
		default:
			fail(err, errlen, "%s: unsupported link type %u", path, linktype);
			goto bad;
		}
		ipoff = link_to_ip(linktype, p->data + off, incl);
		if (ipoff >= 0) {
			r = ip_to_tcp(p->data + off + ipoff, incl - (size_t)ipoff, &s, err, errlen);
			if (r < 0 || (r > 0 && add_segment(p, &s, port, num, err, errlen)))
				goto bad;
		}
		off += incl;
	}
	return 0;
bad:
	kg_pcap_close(p);
	return -1;
}

/* Sorting a connection's segments by offset; among equal offsets the earlier frame
 * first (the first copy of a byte wins). */
struct rel_seg {
	__s64 rel;
	const struct kg_pcap_seg *s;
};

static int by_rel(const void *a, const void *b)
{
	const struct rel_seg *x = a, *y = b;

	if (x->rel != y->rel)
		return x->rel < y->rel ? -1 : 1;
	return x->s->frame < y->s->frame ? -1 : x->s->frame > y->s->frame;
}

int kg_pcap_stream(const struct kg_pcap *p, const struct kg_pcap_conn *c, __u8 **out,
		   size_t *outlen, FILE *warn, char *err, size_t errlen)
{
	struct rel_seg *v;
	struct kg_buf b = {0};
	__u32 base;

	*out = NULL;
	*outlen = 0;
	if (!c->nsegs)
		return 0;
	if (c->have_isn) {
		base = c->isn + 1;
	} else {
		/* the capture began mid-connection: from the lowest sequence number seen */
		base = lowest_seq(c);
		if (warn)
			fprintf(warn,
				"kgate decode: connection %u (%s:%u) has no SYN in the capture; its "
				"stream starts at the lowest sequence number seen\n",
				c->num, c->client, c->cport);
	}
	v = calloc(c->nsegs, sizeof(*v));
	if (!v)
		return fail(err, errlen, "out of memory");
	for (size_t i = 0; i < c->nsegs; i++)
		v[i] = (struct rel_seg){.rel = seq_diff(c->segs[i].seq, base), .s = &c->segs[i]};
	qsort(v, c->nsegs, sizeof(*v), by_rel);
	for (size_t i = 0; i < c->nsegs; i++) {
		const __u8 *d = p->data + v[i].s->off;
		size_t n = v[i].s->len, rel, have, same;

		if (v[i].rel < 0) {
			/* bytes before the stream's start (a SYN-less capture): keep the rest */
			size_t cut = (size_t)-v[i].rel;

			d += cut < n ? cut : n;
			n -= cut < n ? cut : n;
			v[i].rel = 0;
		}
		rel = (size_t)v[i].rel;
		if (rel > b.len) {
			fail(err, errlen,
			     "connection %u (%s:%u): bytes %zu..%zu were never captured (next "
			     "segment in frame %llu)",
			     c->num, c->client, c->cport, b.len, rel - 1,
			     (unsigned long long)v[i].s->frame);
			free(v);
			kg_buf_free(&b);
			return -1;
		}
		have = b.len - rel;
		same = n < have ? n : have;
		if (same && memcmp(b.p + rel, d, same) && warn)
			fprintf(warn,
				"kgate decode: connection %u: frame %llu retransmits bytes %zu..%zu "
				"with different data; keeping the first copy\n",
				c->num, (unsigned long long)v[i].s->frame, rel, rel + same - 1);
		if (n > have)
			kg_buf_add(&b, d + have, n - have);
	}
	free(v);
	*out = (__u8 *)b.p;
	*outlen = b.len;
	return 0;
}

void kg_pcap_close(struct kg_pcap *p)
{
	for (size_t i = 0; i < p->nconns; i++)
		free(p->conns[i].segs);
	free(p->conns);
	free(p->data);
	memset(p, 0, sizeof(*p));
}
