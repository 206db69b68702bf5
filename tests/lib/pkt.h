/* SPDX-License-Identifier: Apache-2.0 */
/* Test packets: Ethernet (+ one VLAN tag) + IPv4/IPv6 + TCP, with valid checksums. */
#ifndef KGATE_TESTS_PKT_H
#define KGATE_TESTS_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKT_FIN 0x01
#define PKT_SYN 0x02
#define PKT_RST 0x04
#define PKT_PSH 0x08
#define PKT_ACK 0x10

struct pkt_spec {
	int family;        /* 4 or 6 */
	int vlan;          /* 0 = untagged, else the VLAN id */
	const char *saddr; /* textual address */
	const char *daddr;
	uint16_t sport, dport;
	uint32_t seq;
	uint8_t flags;     /* PKT_* */
	uint32_t ack;      /* acknowledgment number; 0 = 1 */
};

/* Builds the packet into out (cap >= 128 + plen); returns its length. */
size_t pkt_build(uint8_t *out, const struct pkt_spec *s, const uint8_t *payload, size_t plen);

/* Parsed view of a packet pkt_build made (or the datapath changed). */
struct pkt_view {
	int family;
	size_t l3_off, tcp_off, payload_off, payload_len;
	uint8_t flags;
	uint32_t seq;
	bool ip_csum_ok, tcp_csum_ok, len_ok;
};

int pkt_parse(const uint8_t *p, size_t len, struct pkt_view *v);

/* Makes the IPv4 header at ip (options included) carry its right checksum again. */
void pkt_ip4_csum(uint8_t *ip);

#endif
