// SPDX-License-Identifier: Apache-2.0
/*
 * Datapath tests (root): the real ingress programs, XDP (bpf/kgate_xdp.bpf.c) and TC
 * ingress (bpf/kgate_tci.bpf.c, the same source for an skb; every case runs on both,
 * its verdicts mapped to XDP's), and TC egress, through BPF_PROG_RUN, with policies
 * compiled by the agent's compiler and written into the maps by its loader. The harness
 * is tests/bpf/datapath/harness.c; the cases are in tests/bpf/datapath/ by feature, and
 * run in the order of this table (later cases meet the counters and flows of earlier
 * ones, as a datapath that has been running would).
 */
#include <stdlib.h>
#include "datapath/harness.h"
#include "tests/lib/cu_run.h"

static const struct {
	const char *name;
	void (*fn)(void);
} cases[] = {
	{ "verifier accepts every program", test_verifier },
	{ "allow: bytes unchanged, event", test_allow_unchanged },
	{ "reject: only the denied topic is poisoned", test_reject_poisons_only_the_denied_topic },
	{ "reset and drop", test_reset_and_drop },
	{ "operation classes", test_operation_classes },
	{ "IPv6 and VLAN", test_ipv6_and_vlan },
	{ "monitor mode and audit rules", test_monitor_and_audit },
	{ "split at every header byte", test_split_at_every_header_byte },
	{ "pipelined requests", test_pipelined },
	{ "a packet's events: one record, one event per topic, in order",
	  test_events_one_record_per_packet },
	{ "ring buffer full: every event of a lost record counted by class",
	  test_events_lost_by_class },
	{ "out of order, retransmission, overlap", test_out_of_order_and_retransmission },
	{ "retransmission: any byte read changed is dropped; no key, no pass",
	  test_retx_every_byte },
	{ "retransmission over two remembered segments", test_retx_two_segments },
	{ "pins: bpffs mounted where missing, refused elsewhere", test_bpffs_ensure },
	{ "undecodable and mid-stream flows reset", test_undecodable_resets },
	{ "topic sets: all, prefix, regex; ACLs reset, never poisoned", test_topic_sets },
	{ "a topics: none rule never decides a request about every topic",
	  test_topics_none_never_opens_sets },
	{ "ACL and config resources that are not topics: decided beside topics",
	  test_non_topic_resources },
	{ "sets decided as topic-less beside named topics", test_topic_sets_with_topics },
	{ "ListConfigResources: decided as naming no topic", test_list_config_resources },
	{ "a known tagged field of another size: undecodable", test_known_tag_sizes },
	{ "non-listener traffic passes untouched", test_non_listener_passes },
	{ "topic ids: known by name, unknown by policy", test_topic_ids },
	{ "a jumbo frame: the name in a fragment is poisoned", test_frags },
	{ "redirect at connection start", test_redirect_at_syn },
	{ "a rejected topic id is written back in the response", test_topic_id_response },
	{ "SYN in the middle of a frame; data on a SYN", test_syn_handling },
	{ "incremental fetch sessions reset after a policy change", test_fetch_session_reset },
	{ "share sessions: another connection's or an older policy's reset",
	  test_share_session_reset },
	{ "reject: the response names the topic and says 29", test_reject_response_rewritten },
	{ "16 pipelined rejected requests: every answer says 29", test_pipelined_rejects_16 },
	{ "64 pipelined rejected requests: every answer says 29", test_pipelined_rejects_64 },
	{ "a reject past the in-flight ring resets instead", test_rejects_past_inflight },
	{ "SASL users bound only on the broker's success", test_sasl_binding },
	{ "SASL: a reused correlation id binds nobody", test_sasl_corr_reuse },
	{ "SASL v0: pipelined answers are not raw tokens", test_sasl_v0_pipelined },
	{ "SASL names table full: reset, never another principal",
	  test_sasl_names_full_fails_closed },
	{ "SASL name removed when the connection ends at once",
	  test_sasl_name_removed_at_early_end },
	{ "SASL name lost while idle: reset, never another principal",
	  test_sasl_name_lost_fails_closed },
	{ "reject: a Fetch response says 29 under the topic's name", test_reject_fetch_response },
	{ "reject: a Metadata response says 29 under the topic's name",
	  test_reject_metadata_response },
	{ "reject: ListOffsets and OffsetCommit responses say 29", test_reject_offset_responses },
	{ "reject: admin responses say 31 under the topics' names", test_reject_admin_responses },
	{ "reject: a DescribeConfigs topic result says 29, a broker's is kept",
	  test_reject_describe_configs_response },
	{ "reject: OffsetFetch and AddPartitionsToTxn responses say 29",
	  test_reject_offset_fetch_and_txn_responses },
	{ "10,000 random (policy, request) pairs agree with the reference", test_differential },
	{ "every decision uses one whole generation", test_generation_flip },
	{ "IPv4 fragments of TCP are dropped", rv_ipv4_fragment },
	{ "IPv6 extension headers before TCP are walked", rv_ipv6_ext_header },
	{ "a SYN inside a connection cannot desync the decoder", rv_syn_desync },
	{ "a SYN does not lift a black hole", rv_syn_clears_blackhole },
	{ "only an exact-sequence RST ends a flow", rv_rst_deletes_flow },
	{ "name + id entries: both are poisoned", rv_metadata_name_and_id },
	{ "ids are re-taken when the policy changes", rv_stale_region_id },
	{ "a request's client id is re-taken when the policy changes", rv_client_id_across_apply },
	{ "TC ingress: a BIG TCP aggregate is decided", rv_big_tcp_length },
	{ "no broken RST from a segment with IP options", rv_rst_with_ip_options },
	{ "data on a SYN is decided", rv_syn_with_data },
	{ "QinQ (two VLAN tags) is decided", rv_qinq },
	{ "ahead inside records: passed, jumped over, requests still paired",
	  test_ahead_inside_records },
	{ "ahead at the edges of the skip region", test_ahead_edges },
	{ "ahead: a frame forged inside records is never read", test_ahead_forged_frame },
	{ "ahead: retransmissions over skipped and read bytes", test_ahead_retransmitted },
	{ "ahead: full, then a RST ends them", test_ahead_full_then_rst },
	{ "ahead inside a client id's rest and a frame's rest", test_ahead_other_skips },
	{ "ahead: a hole filled in its middle, then all of it", test_ahead_hole_split },
	{ "probe: far past a gap to read, passed, checked when reached",
	  test_probe_inside_records },
	{ "probe: holding a request, the stream reaching it is reset", test_probe_read_resets },
	{ "probe: the stream reaching into it", test_probe_reached_inside },
	{ "probe: covered by a later copy; the slot stays meanwhile", test_probe_covered },
	{ "probe: a copy from its start, ahead, is dropped; reached, it resets",
	  test_probe_shadowed_at_its_start },
	{ "probe: a copy from inside it, ahead, is dropped; reached, it resets",
	  test_probe_shadowed_from_inside },
	{ "holes and probes across the sequence wrap, IPv4 and IPv6",
	  test_holes_and_probes_across_the_wrap },
	{ "a handshake completes on the client's ACK", test_handshake_completes_on_ack },
	{ "a SYN with another ISN leaves an answered handshake",
	  test_syn_keeps_answered_handshake },
	{ "a SYN flood evicts no established connection", test_syn_flood_spares_established },
	{ "pool exhausted: dropped, counted, audited, then decided", test_pool_exhausted },
	{ "flow table full: the handshake is reset, nothing evicted", test_flow_table_full },
	{ "idle past the flow timeout: swept, then mid-stream", test_idle_timeout },
	{ "a slot goes back when idle, answers still tied", test_slot_given_back },
	{ "one data segment of a connection at a time", test_ingress_one_at_a_time },
	{ "rejections awaiting answers: 64 a connection, then it resets; others answered",
	  test_pend_per_connection },
	{ "a slot held without progress: swept, reset at its next segment",
	  test_slot_stalled_reset },
	{ "one source holds a quarter of the pool at most", test_source_quota },
	{ "bytes inside records: the fast path counts in on the slot", test_skip_fast_counts_in },
	{ "storm: 300 rejects, one record and one summary; counters exact; a neighbour's all",
	  test_storm_folds_exactly },
	{ "storm: the window ends at the next decision", test_storm_window_expiry },
	{ "storm: a different decision breaks a run; the end sends what is pending",
	  test_storm_runs_broken_and_ended },
	{ "storm: past the budget counted, carried by the next record as folded",
	  test_storm_budget },
	{ "storm: the agent's sweep sends a quiet connection's summary once", test_storm_sweep },
	{ "storm: a shared fold entry sends the other's count first", test_storm_shared_entry },
	{ "storm: a policy applied mid-run ends the run; the new version's own records",
	  test_storm_run_ends_at_policy_change },
};

static int register_cases(CU_pSuite s)
{
	const char *only = getenv("KG_CASES");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if ((!only || i == 0 || strstr(cases[i].name, only)) &&
		    !CU_add_test(s, cases[i].name, cases[i].fn))
			return -1;
	return 0;
}

int main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite("datapath (kgate_xdp)", dp_setup, dp_teardown);
	if (!s || register_cases(s))
		return 2;
	s = CU_add_suite("datapath (kgate_tc_ingress)", dp_setup_tci, dp_teardown);
	if (!s || register_cases(s))
		return 2;
	return cu_run();
}
