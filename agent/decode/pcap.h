/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client -> server byte streams of a classic pcap file, for `kgate decode --pcap`.
 * The same reading as scripts/pcap_streams.py (tests/cli/test_pcap.py holds them to the
 * same answers): every TCP connection whose server side is the given port is numbered
 * 1, 2, ... in the order of its first packet; the bytes its client sent are put in
 * sequence-number order, a retransmitted or overlapping byte kept once (the first copy
 * wins, as in a receiving TCP); a hole in the sequence space is an error, since the
 * stream would not be the bytes the server received.
 *
 * Link types: 0 (BSD loopback), 1 (Ethernet, with 802.1Q/802.1ad tags), 12/101/228/229
 * (raw IP), 113 (Linux cooked v1: tcpdump -i any), 276 (Linux cooked v2). pcapng is
 * refused (editcap -F pcap converts it), and so are IP fragments and packets the capture
 * cut short (snaplen): either would lose stream bytes silently.
 *
 * May call: agent/lib.
 */
#ifndef KGATE_DECODE_PCAP_H
#define KGATE_DECODE_PCAP_H

#include <netinet/in.h>
#include <stddef.h>

#include "agent/lib/lib.h"

/*
 * Connections one file may hold: past this, kg_pcap_open fails saying so (a capture of
 * a busy listener: filter it with tcpdump -r IN -w OUT 'tcp port P and host H' first).
 */
#define KG_PCAP_MAX_CONNS 4096
/* A file larger than this is refused: it is read whole into memory. */
#define KG_PCAP_MAX_BYTES (1ull << 30)

struct kg_pcap_seg {
	__u32 seq; /* absolute sequence number of data[0] */
	__u32 len;
	size_t off;  /* of the payload in the file's bytes */
	__u64 frame; /* the packet's number in the file, from 1 */
};

struct kg_pcap_conn {
	unsigned num; /* 1, 2, ... in the order of the connection's first packet */
	char client[INET6_ADDRSTRLEN], server[INET6_ADDRSTRLEN];
	__u16 cport, sport;
	__u8 family; /* 4 or 6 */
	__u8 addr[2][16]; /* client, server: the key */
	bool have_isn, closed;
	__u32 isn;
	struct kg_pcap_seg *segs;
	size_t nsegs;
};

struct kg_pcap {
	__u8 *data; /* the whole file */
	size_t len;
	struct kg_pcap_conn *conns;
	size_t nconns;
};

/* Reads the file and splits it into the connections to port: 0, or -1 with err set. */
int kg_pcap_open(struct kg_pcap *p, const char *path, __u16 port, char *err, size_t errlen);
/*
 * Connection c's client -> server bytes, in order (malloc'ed into *out): 0, or -1 with err
 * set (a hole). Notes (no SYN seen, a retransmission with other bytes) go to warn, one
 * line each, when warn is not NULL.
 */
int kg_pcap_stream(const struct kg_pcap *p, const struct kg_pcap_conn *c, __u8 **out,
		   size_t *outlen, FILE *warn, char *err, size_t errlen);
void kg_pcap_close(struct kg_pcap *p);

#endif
