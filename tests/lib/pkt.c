// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <string.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>

#include "pkt.h"

/* IPv4 flag: do not fragment (RFC 791), as Linux sends TCP. */
#define PKT_IP_DF 0x4000

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (p[i] << 8) | p[i + 1];
	if (n & 1)
		s += p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* TCP checksum over the pseudo header and segment; 0xffff-folded sum is valid. */
static uint16_t tcp_sum(int family, const uint8_t *l3, const uint8_t *tcp, size_t tcplen)
{
	uint32_t s = 0;

	if (family == 4) {
		s = sum16(l3 + 12, 8, s);
	} else {
		s = sum16(l3 + 8, 32, s);
	}
	s += IPPROTO_TCP + (uint32_t)tcplen;
	s = sum16(tcp, tcplen, s);
	return fold(s);
}

void pkt_ip4_csum(uint8_t *ip)
{
	struct iphdr *h = (void *)ip;

	h->check = 0;
	h->check = htons(~fold(sum16(ip, h->ihl * 4, 0)) & 0xffff);
}

size_t pkt_build(uint8_t *out, const struct pkt_spec *s, const uint8_t *payload, size_t plen)
{
	size_t off = 12, l3, tcpoff, tcplen = 20 + plen;
	struct tcphdr *tcp;

	memset(out, 0, 128);
	memcpy(out, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	if (s->vlan) {
		out[off++] = ETH_P_8021Q >> 8, out[off++] = ETH_P_8021Q & 0xff;
		out[off++] = (s->vlan >> 8) & 0x0f, out[off++] = s->vlan & 0xff;
	}
	if (s->family == 6)
		out[off++] = ETH_P_IPV6 >> 8, out[off++] = ETH_P_IPV6 & 0xff;
	else
		out[off++] = ETH_P_IP >> 8, out[off++] = ETH_P_IP & 0xff;
	l3 = off;
	if (s->family == 6) {
		struct ipv6hdr *ip6 = (void *)(out + l3);

		ip6->version = 6;
		ip6->nexthdr = IPPROTO_TCP;
		ip6->hop_limit = 64;
		ip6->payload_len = htons(tcplen);
		inet_pton(AF_INET6, s->saddr, &ip6->saddr);
		inet_pton(AF_INET6, s->daddr, &ip6->daddr);
		tcpoff = l3 + sizeof(*ip6);
	} else {
		struct iphdr *ip = (void *)(out + l3);

		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 64;
		ip->protocol = IPPROTO_TCP;
		ip->frag_off = htons(PKT_IP_DF);
		ip->tot_len = htons(20 + tcplen);
		inet_pton(AF_INET, s->saddr, &ip->saddr);
		inet_pton(AF_INET, s->daddr, &ip->daddr);
		pkt_ip4_csum((uint8_t *)ip);
		tcpoff = l3 + 20;
	}
	tcp = (void *)(out + tcpoff);
	tcp->source = htons(s->sport);
	tcp->dest = htons(s->dport);
	tcp->seq = htonl(s->seq);
	tcp->ack_seq = htonl(s->ack ? s->ack : 1);
	tcp->doff = 5;
	tcp->window = htons(65535);
	out[tcpoff + 13] = s->flags;
	if (plen)
		memcpy(out + tcpoff + 20, payload, plen);
	tcp->check = htons(~tcp_sum(s->family, out + l3, out + tcpoff, tcplen) & 0xffff);
	return tcpoff + tcplen;
}

int pkt_parse(const uint8_t *p, size_t len, struct pkt_view *v)
{
	size_t off = 12, iplen;
	uint16_t proto;

	memset(v, 0, sizeof(*v));
	if (len < 14)
		return -1;
	proto = (p[off] << 8) | p[off + 1];
	off += 2;
	if (proto == ETH_P_8021Q) {
		proto = (p[off + 2] << 8) | p[off + 3];
		off += 4;
	}
	v->l3_off = off;
	if (proto == ETH_P_IP) {
		size_t ihl = (p[off] & 0x0f) * 4;

		v->family = 4;
		iplen = (p[off + 2] << 8) | p[off + 3];
		v->ip_csum_ok = fold(sum16(p + off, ihl, 0)) == 0xffff;
		v->len_ok = off + iplen == len;
		v->tcp_off = off + ihl;
		iplen -= ihl;
	} else if (proto == ETH_P_IPV6) {
		v->family = 6;
		iplen = (p[off + 4] << 8) | p[off + 5];
		v->ip_csum_ok = true;
		v->len_ok = off + 40 + iplen == len;
		v->tcp_off = off + 40;
	} else {
		return -1;
	}
	if (v->tcp_off + 20 > len)
		return -1;
	v->payload_off = v->tcp_off + (p[v->tcp_off + 12] >> 4) * 4;
	v->payload_len = iplen - (v->payload_off - v->tcp_off);
	v->flags = p[v->tcp_off + 13];
	v->seq = ((uint32_t)p[v->tcp_off + 4] << 24) | (p[v->tcp_off + 5] << 16) |
		 (p[v->tcp_off + 6] << 8) | p[v->tcp_off + 7];
	v->tcp_csum_ok = tcp_sum(v->family, p + v->l3_off, p + v->tcp_off, iplen) == 0xffff;
	return 0;
}
