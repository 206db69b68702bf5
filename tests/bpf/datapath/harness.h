/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The datapath tests' harness (harness.c): the real programs loaded with their maps
 * pinned under a private directory, policies compiled by the agent's compiler and
 * written by its loader, packets run through BPF_PROG_RUN, decision events read back
 * as the agent reads them. A case builds packets, runs them and checks the verdict, the
 * bytes that come out (checksums included) and the events. The cases live in the files
 * of this folder by feature; test_datapath.c registers them, in one order, once per
 * ingress hook (XDP, then TC ingress with its verdicts mapped to XDP's).
 */
#ifndef KGATE_TESTS_DATAPATH_HARNESS_H
#define KGATE_TESTS_DATAPATH_HARNESS_H

#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/datapath/events.h"
#include "agent/policy/policy.h"
#include "agent/policy/write.h"
#include "bpf/kafka_layouts.h"
#include "tests/lib/kframe.h"
#include "tests/lib/pkt.h"

#define PORT 9092
#define BROKER4 "10.99.0.1"
#define BROKER6 "fd00:99::1"
/* Events kept per packet for the cases to read; more are counted, not kept. */
#define MAXEV 256
/* Bytes of a test packet, in and out. */
#define PKT_CAP 4096
/* The pool's slots and the connections held, as the harness loads the datapath. */
#define DP_SLOTS 1024
#define DP_FLOWS 16384

struct dp_state {
	struct kgate_xdp_bpf *skel;
	struct kgate_tc_bpf *tc;   /* shares the pinned maps */
	struct kgate_tci_bpf *tci; /* TC ingress: the ingress program for an skb */
	int use_tci;               /* the suite at hand runs kgate_tc_ingress */
	int xdp_fd, tci_fd, tc_fd; /* the three programs */
	int redirect_fd;           /* XDP's quarantine devmap, kg_redirect */
	struct kg_maps m;
	struct ring_buffer *rb;
	char pin[64];
	struct kg_event ev[MAXEV];
	int nev;
	int nrec;                  /* ring-buffer records they came in */
	int bad_rec;               /* records kg_events_each refused: a datapath defect */
	__u64 seen[2];             /* every event read, by lost-event class (KG_LOST_*) */
	int hold;                  /* dp_run leaves the ring buffer unread */
	__u32 version;
	uint16_t next_port;
};

extern struct dp_state dp;

/* CUnit suite setup and teardown: the programs loaded, the maps pinned; all removed. */
int dp_setup(void);
int dp_setup_tci(void);
int dp_teardown(void);

/* Compiles p and makes it the active generation. */
int dp_apply(const struct kg_policy *p);
/* Runs a packet through the suite's ingress program; the verdict as XDP's (XDP_*). */
int dp_run(const uint8_t *in, size_t len, uint8_t *out, size_t *outlen);
/* Runs a packet through TC egress (broker -> client); TC_ACT_*. */
int tc_run(const uint8_t *in, size_t len, uint8_t *out, size_t *outlen);
/* A datapath counter (KG_C_*), summed over CPUs. */
__u64 counter(__u32 idx);
/*
 * The agent's sweep as `kgate run` runs it: idle past 1,200 s, closed and quiet past
 * 10 s, holding a slot without progress past KG_SLOT_STALL_S. kg_flows_sweep's result.
 */
struct kg_sweep_stats;
int dp_sweep(struct kg_sweep_stats *st);
/* A map's max_entries (0 when it cannot be read). */
__u32 max_entries(int fd);
/* Limit records (KG_EV_LIMIT) of limit (enum kg_limit) among the last packet's events. */
int limit_records(int limit);
/* Entry idx of a per-CPU array of __u64 (fd), summed over CPUs. */
__u64 percpu_sum(int fd, __u32 idx);

/* ---- connections ----------------------------------------------------------- */

struct conn {
	struct pkt_spec s;
	uint32_t next;
	uint32_t bisn; /* the broker's initial sequence number (its SYN-ACK's) */
	uint8_t out[PKT_CAP];
	size_t outlen;
	struct pkt_view v;
};

/* The broker's SYN-ACK (acknowledging ack) for c, through TC egress; c acknowledges it. */
void syn_ack(struct conn *c, uint32_t ack);
/* The client's ACK that completes c's handshake (at c->next). */
void hs_ack(struct conn *c);
/*
 * A SYN at isn on c's addresses (passed), the broker's SYN-ACK, the client's ACK; data
 * follows at isn + 1.
 */
void conn_syn(struct conn *c, uint32_t isn);
/* A new connection to the broker from saddr (VLAN vlan, or 0), opened by conn_syn. */
void conn_open(struct conn *c, int family, const char *saddr, int vlan);
/* Sends bytes at seq (c->next when seq is 0); returns the XDP action. */
int conn_send_at(struct conn *c, uint32_t seq, const uint8_t *data, size_t len);
/* Sends bytes at c->next and moves it on; returns the XDP action. */
int conn_send(struct conn *c, const uint8_t *data, size_t len);
/* Builds a segment of c at seq with flags (PKT_*) into pkt; returns its length. */
size_t rv_seg(struct conn *c, uint32_t seq, uint8_t flags, const uint8_t *d, size_t len,
	      uint8_t *pkt);
/* dp_run with the events of earlier packets forgotten. */
int rv_run(const uint8_t *pkt, size_t n, uint8_t *out, size_t *outlen);
/*
 * Under the base policy, a connection from saddr and its next segment, carrying a
 * Produce of 'secret' (rule 1 resets it), built into pkt for the case to alter; returns
 * the segment's length.
 */
size_t secret_segment(struct conn *c, int family, const char *saddr, int vlan, uint8_t *pkt);

/* ---- requests -------------------------------------------------------------- */

/* A request naming n topics (n -1: a null list), correlation id 7, client id "app". */
size_t req(int key, int ver, const char *const *topics, int n, uint8_t *out);
/* A Produce v7 of one topic. */
size_t produce(const char *topic, uint8_t *out);
/* Offset of the end of the first occurrence of name in buf, or 0. */
size_t name_end(const uint8_t *buf, size_t len, const char *name);

/* c's 5-tuple as the datapath keys it. */
void conn_key(const struct conn *c, struct kg_flow_key *k);
/* c's small entry (kg_flows), or -1 when the datapath holds none. */
int conn_entry(const struct conn *c, struct kg_conn *out);
/* The broker's pure acknowledgment of c's bytes up to ack (seq: its own), through TC egress. */
void broker_ack(const struct conn *c, uint32_t seq, uint32_t ack);

/* ---- responses (written by hand, as a broker would) ------------------------ */

struct wbuf {
	uint8_t *p;
	size_t n;
};

void w16(struct wbuf *w, int v);
void w32(struct wbuf *w, int32_t v);
/* Compact (flex) or classic strings, nulls, array counts; tagged fields when flex. */
void wstr(struct wbuf *w, int flex, const char *s);
void wnull(struct wbuf *w, int flex);
void warr(struct wbuf *w, int flex, int n);
void wtf(struct wbuf *w, int flex);
/* Closes a frame written from w->p: its i32 size prefix. */
void wframe_end(struct wbuf *w);
/*
 * Starts a flexible request (header v2) at w->p: the size (wframe_end fills it), key,
 * version, correlation id 7, client id "app", no tagged fields.
 */
void wreq_flex(struct wbuf *w, int key, int ver);
/* Ends it: the top-level tagged fields (none), the size; returns the frame's length. */
size_t wreq_end(struct wbuf *w);
/*
 * A client connection from saddr (IPv4), and its broker side: the SYN-ACK (initial
 * sequence number isn) through TC, then br ready for the broker's first data segment.
 */
void broker_open(struct conn *c, const char *saddr, struct pkt_spec *br, uint32_t isn);
/* A ProduceResponse v7 frame: per topic one partition 0 with the given error. */
size_t produce_response(int32_t corr, const char *const *names, const int *errs, int n,
			uint8_t *out);
/* The bytes of w from the broker through TC egress (passed); br moves on. */
void tc_send(struct pkt_spec *br, struct wbuf *w);

/* ---- the policy used by most cases ------------------------------------------ */

void push(char ***v, int *n, const char *s);
/*
 * A policy without rules yet: version (or none), default_action, every allow audited,
 * one listener on PORT whose undecodable flows are reset.
 */
void policy_start(struct kg_policy *p, const char *version, int default_action);
/*
 * Regions eu (10.10/16, fd00:10::/32) and us (10.20/16), identity orders-svc
 * (10.10.1/24); rules in order: 0 eu.* outside eu rejected, 1 secret reset, 2 blackhole
 * dropped, 3 orders-svc may admin, 4 no other admin, 5 audited (reject, audit), 6 allow.
 */
void base_policy(struct kg_policy *p, int mode);
void apply_base(int mode);

/* Event i of the last packet: its verdict, rule, whether enforced, operation, topic. */
void check_event(int i, int verdict, __u32 rule, int enforced, int op, const char *topic);

/* ---- the cases, by file (test_datapath.c registers them) -------------------- */

/* load.c */
void test_verifier(void);
void test_bpffs_ensure(void);
/* verdicts.c */
void test_allow_unchanged(void);
void test_reject_poisons_only_the_denied_topic(void);
void test_reset_and_drop(void);
void test_operation_classes(void);
void test_monitor_and_audit(void);
void test_non_listener_passes(void);
void test_redirect_at_syn(void);
/* packets.c */
void test_ipv6_and_vlan(void);
void test_frags(void);
void rv_big_tcp_length(void);
void rv_ipv4_fragment(void);
void rv_ipv6_ext_header(void);
void rv_rst_with_ip_options(void);
void rv_qinq(void);
/* stream.c */
void test_split_at_every_header_byte(void);
void test_pipelined(void);
void test_undecodable_resets(void);
void test_topic_sets(void);
void test_topics_none_never_opens_sets(void);
void test_known_tag_sizes(void);
/* events.c */
void test_events_one_record_per_packet(void);
void test_events_lost_by_class(void);
/* retransmission.c */
void test_out_of_order_and_retransmission(void);
void test_retx_every_byte(void);
void test_retx_two_segments(void);
/* tcp_state.c */
void test_syn_handling(void);
void rv_syn_desync(void);
void rv_syn_clears_blackhole(void);
void rv_rst_deletes_flow(void);
void rv_syn_with_data(void);
/* topic_sets.c */
void test_non_topic_resources(void);
void test_topic_sets_with_topics(void);
void test_list_config_resources(void);
/* topic_ids.c */
void test_topic_ids(void);
void test_topic_id_response(void);
void rv_metadata_name_and_id(void);
/* responses.c */
void test_pipelined_rejects_16(void);
void test_pipelined_rejects_64(void);
void test_rejects_past_inflight(void);
void test_reject_response_rewritten(void);
void test_reject_fetch_response(void);
void test_reject_metadata_response(void);
void test_reject_offset_responses(void);
void test_reject_admin_responses(void);
void test_reject_describe_configs_response(void);
void test_reject_offset_fetch_and_txn_responses(void);
/* sasl.c */
void test_sasl_binding(void);
void test_sasl_corr_reuse(void);
void test_sasl_v0_pipelined(void);
void test_sasl_names_full_fails_closed(void);
void test_sasl_name_removed_at_early_end(void);
void test_sasl_name_lost_fails_closed(void);
/* policy_change.c */
void test_fetch_session_reset(void);
void test_share_session_reset(void);
void test_generation_flip(void);
void rv_stale_region_id(void);
void rv_client_id_across_apply(void);
/* ahead.c */
void test_ahead_inside_records(void);
void test_ahead_edges(void);
void test_ahead_forged_frame(void);
void test_ahead_retransmitted(void);
void test_ahead_full_then_rst(void);
void test_ahead_other_skips(void);
void test_ahead_hole_split(void);
void test_probe_inside_records(void);
void test_probe_read_resets(void);
void test_probe_reached_inside(void);
void test_probe_covered(void);
void test_probe_shadowed_at_its_start(void);
void test_probe_shadowed_from_inside(void);
void test_holes_and_probes_across_the_wrap(void);
/* flows.c */
void test_handshake_completes_on_ack(void);
void test_syn_flood_spares_established(void);
void test_pool_exhausted(void);
void test_flow_table_full(void);
void test_idle_timeout(void);
void test_slot_given_back(void);
void test_ingress_one_at_a_time(void);
void test_pend_per_connection(void);
void test_slot_stalled_reset(void);
void test_source_quota(void);
void test_skip_fast_counts_in(void);
void test_syn_keeps_answered_handshake(void);
/* storms.c */
void test_storm_folds_exactly(void);
void test_storm_window_expiry(void);
void test_storm_runs_broken_and_ended(void);
void test_storm_budget(void);
void test_storm_sweep(void);
void test_storm_shared_entry(void);
void test_storm_run_ends_at_policy_change(void);
/* differential.c */
void test_differential(void);

#endif /* KGATE_TESTS_DATAPATH_HARNESS_H */
