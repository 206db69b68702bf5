// SPDX-License-Identifier: Apache-2.0
/*
 * kgate run: the agent. Attaches (or adopts) the datapath on each interface, runs the
 * policy store's version (run_policy.c: --policy FILE seeds it and changes it when the file
 * changes), then ships every decision event from the ring buffers, and every change of
 * the store, to the audit pipeline (agent/audit/audit.h) until SIGTERM/SIGINT; SIGHUP
 * re-reads the policy file, SIGUSR1 reopens the audit file.
 *
 * The datapath sends a packet's events as one record with BPF_RB_NO_WAKEUP (a wakeup per
 * record would cost more than the decisions), so the ring buffers are drained on a
 * timer, not on epoll (agent/drain: batches written to the sinks, each let go from the
 * ring buffer right after its write; a restart skips what was written but not let go).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "agent/audit/audit.h"
#include "agent/cmd/cmd.h"
#include "agent/cmd/run.h"
#include "agent/drain/drain.h"
#include "agent/metrics/metrics.h"
/* Ring buffers are drained this often: the added latency of an event, and of a gap check. */
#define RUN_POLL_MS 50
/* Lost-event counters are compared this often. */
#define RUN_GAP_CHECK_MS 500
/* Kafka gets this long to deliver what is queued on exit; the rest stays spooled. */
#define RUN_CLOSE_MS 5000
/* Connections are swept this often (kg_flows walked in batches: ~1 s for a million). */
#define RUN_SWEEP_MS 10000
/*
 * Fold entries are swept this often: a connection that went quiet after repeated
 * decisions has its summary sent at most this long after its fold window ended.
 */
#define RUN_FOLD_SWEEP_MS 1000
/*
 * The flow timeout's default: twice Kafka's connections.max.idle.ms (10 min), so a broker
 * closes an idle connection long before kgate forgets it. A connection idle longer is
 * forgotten: its next data is mid-stream, on_undecodable applies (reset by default).
 */
#define RUN_FLOW_TIMEOUT_S 1200
/*
 * A connection the broker closed (FIN or RST) whose client has been quiet this long is
 * forgotten (its last segments have long arrived).
 */
#define RUN_CLOSED_S 10

struct run_args {
	/* first, at offset 0, on purpose: a given flag there is one too (KG_OPT_GIVEN), and
	 * the CLI tests of --xdp-mode with --tc-ingress keep it so */
	bool xdp_mode_given;
	const char *ifaces[RUN_MAX_IFACES];
	int nifaces;
	const char *policy, *quarantine, *brokers, *topic, *file, *spool_dir, *metrics_addr, *node;
	int xdp_mode; /* index in xdp_modes */
	bool tc_ingress, detach_on_exit;
	unsigned long max_flows, flow_pool, flow_timeout;
};

static const char *const xdp_modes[] = {"native", "generic", NULL};

_Static_assert(RUN_MAX_IFACES == 8, "--iface's help says how many interfaces one agent serves");

static const struct kg_opt run_opts[] = {
	KG_OPT_LIST("iface", "IF", struct run_args, ifaces, nifaces,
		    "broker-facing interface (repeatable, up to 8)", .required = true),
	KG_OPT_STR("policy", "FILE", struct run_args, policy,
		   "policy file (YAML; see 'kgate policy check'): seeds\n"
		   "an empty policy store; later, applied only when\n"
		   "its bytes change (below)", .required = true),
	KG_OPT_CHOICE("xdp-mode", struct run_args, xdp_mode, xdp_mode_given, xdp_modes,
		      "XDP attach mode for a fresh attach (default native)"),
	KG_OPT_FLAG("tc-ingress", struct run_args, tc_ingress,
		    "enforce at TC ingress instead of XDP (interfaces\n"
		    "where XDP cannot attach; same policy, same maps)"),
	KG_OPT_STR("quarantine-iface", "IF", struct run_args, quarantine,
		   "where the `redirect` action sends connections"),
	KG_OPT_STR("audit-brokers", "H:P,...", struct run_args, brokers,
		   "Kafka brokers of the audit topic"),
	KG_OPT_STR("audit-topic", "T", struct run_args, topic,
		   "the audit topic (required with --audit-brokers)"),
	KG_OPT_STR("audit-file", "PATH", struct run_args, file, "append-only JSON-lines audit file"),
	KG_OPT_STR("spool-dir", "DIR", struct run_args, spool_dir,
		   "spool for undelivered records and the sequence\n"
		   "number (default STATE_DIR/spool)"),
	KG_OPT_STR("metrics-addr", "ADDR:PORT", struct run_args, metrics_addr,
		   "serve Prometheus metrics"),
	KG_OPT_STR("node", "NAME", struct run_args, node,
		   "node name in records (default: the host name; at most 253 bytes)"),
	KG_OPT_FLAG("detach-on-exit", struct run_args, detach_on_exit,
		    "remove everything on SIGTERM/SIGINT"),
	KG_OPT_UINT("max-flows", "N", struct run_args, max_flows, 1024, 16777216,
		    "established connections held, for a fresh load\n"
		    "(default 1048576: 208 bytes of kernel memory each,\n"
		    "preallocated)"),
	KG_OPT_UINT("flow-pool", "N", struct run_args, flow_pool, 64, 1048576,
		    "large states for connections mid-request, for a\n"
		    "fresh load (default 4096: 5,400 bytes each,\n"
		    "preallocated)"),
	KG_OPT_UINT("flow-timeout", "SECONDS", struct run_args, flow_timeout, 60, 86400 * 7,
		    "forget connections idle this long (default 1200)"),
	KG_OPT_END,
};

static int cmd_run(int argc, char **argv);

const struct kg_cmd kg_cmd_run = {
	.name = "run",
	.summary = "the agent: attach or adopt, apply the policy, ship audit events",
	.about = "Attaches kgate to each interface (XDP on ingress: client -> broker; TC egress:\n"
		 "broker -> client), pins programs, links and maps under\n"
		 "/sys/fs/bpf/kgate/IF/, runs the policy, then ships every decision event to the\n"
		 "audit sinks until stopped. When the interface's pins exist (an agent ran before)\n"
		 "they are adopted: nothing is reloaded or re-attached and enforcement never\n"
		 "stops.\n"
		 "\n"
		 "Which policy runs: the per-interface policy store (STATE_DIR/IF/) is the one\n"
		 "source of truth. The newest change wins, whatever made it ('kgate policy apply',\n"
		 "rollback, pause, this FILE), and nothing is applied again that did not change.\n"
		 "An empty store is seeded with FILE. Once it holds versions, its current version\n"
		 "runs, and FILE is applied (as a new version) only when its bytes differ from\n"
		 "what the agent last took from it: then it is a new change by the file's owner.\n"
		 "So a restart keeps what runs, and an apply made meanwhile stays until FILE\n"
		 "itself changes. Every change, by any process, is logged here and written into\n"
		 "the audit stream as a `policy` record ('kgate policy history' lists versions).\n",
	.opts = run_opts,
	.epilog = "Live decisions: 'kgate observe' (socket RUN_DIR/observe.sock).\n"
		  "Signals: SIGTERM, SIGINT stop the agent and leave enforcement pinned (unless\n"
		  "--detach-on-exit); SIGHUP re-reads --policy: applied when its bytes changed\n"
		  "since last taken, else nothing happens (a broken file is logged as\n"
		  "FILE:LINE:COL and the running policy stays); SIGUSR1 reopens --audit-file\n"
		  "(after a rotation that moved it: nothing is lost; a moved file is also\n"
		  "noticed within a second without it).\n"
		  "Directories: pins /sys/fs/bpf/kgate, state /var/lib/kgate, run /run/kgate\n"
		  "(KGATE_PIN_ROOT, KGATE_STATE_DIR, KGATE_RUN_DIR override them). Pins need a\n"
		  "BPF filesystem: one is mounted at /sys/fs/bpf when none is.\n"
		  "Logs go to stderr. Exit 0 on a signal, 1 when setup fails, 2 on usage errors.\n",
	.run = cmd_run,
};

static volatile sig_atomic_t stop_sig, hup, usr1;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		hup = 1;
	else if (sig == SIGUSR1)
		usr1 = 1;
	else
		stop_sig = sig;
}

void kg_run_log(const char *fmt, ...)
{
	__u64 now = kg_wall_now_ns();
	time_t sec = (time_t)(now / 1000000000ull);
	struct tm tm;
	char when[32];
	va_list ap;

	gmtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03lluZ kgate: ", when, (unsigned long long)(now / 1000000 % 1000));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

struct run {
	struct kg_runtime rt[RUN_MAX_IFACES];
	int nrt;
	struct kg_maps maps[RUN_MAX_IFACES];     /* rt[i].maps, for the audit and metrics */
	const char *ifnames[RUN_MAX_IFACES];     /* rt[i].iface */
	struct run_policy policy;
	char sock[512];                          /* the observe socket */
	struct kg_audit *audit;
	struct kg_metrics *metrics;
	struct kg_names_cache *names;
	struct kg_drain *drain;
	__u32 flow_timeout;                      /* seconds (--flow-timeout) */
};

/* The rules between options that the table cannot say. 0 or the usage exit code. */
static int check_args(struct run_args *a)
{
	if (a->tc_ingress && a->xdp_mode_given)
		return kg_usage_error(&kg_cmd_run, "--tc-ingress and --xdp-mode exclude each other");
	if (!!a->brokers != !!a->topic)
		return kg_usage_error(&kg_cmd_run, "--audit-brokers and --audit-topic go together");
	if (a->node && (!*a->node || strlen(a->node) > KG_AUDIT_NODE_MAX))
		return kg_usage_error(&kg_cmd_run, "--node: 1 to %d bytes", KG_AUDIT_NODE_MAX);
	return 0;
}

/*
 * One agent per interface: a second would adopt the same pins and drain half of the ring
 * buffer. The locks go with the process, also on SIGKILL. 0, or -1 after a message.
 */
static int lock_ifaces(const struct run_args *a)
{
	if (mkdir(kg_run_dir(), 0755) && errno != EEXIST) {
		kg_run_log("%s: %s", kg_run_dir(), strerror(errno));
		return -1;
	}
	for (int i = 0; i < a->nifaces; i++) {
		char lock[600];
		int fd;

		snprintf(lock, sizeof(lock), "%s/%s.lock", kg_run_dir(), a->ifaces[i]);
		/* 0600: no other user can open it, and so none can hold it to keep agents out */
		fd = kg_lock_file(lock, LOCK_EX | LOCK_NB);
		if (fd < 0) {
			kg_run_log("%s: %s", a->ifaces[i],
			      fd == -EWOULDBLOCK ? "another 'kgate run' serves this interface"
						 : strerror(-fd));
			return -1;
		}
		/* kept open (and locked) until exit */
	}
	return 0;
}

/* Attaches or adopts every interface, and points redirects at the quarantine. */
static int attach_all(struct run *r, const struct run_args *a)
{
	enum kg_ingress_hook hook = a->tc_ingress ? KG_INGRESS_TC
				    : a->xdp_mode  ? KG_INGRESS_XDP_GENERIC
						   : KG_INGRESS_XDP_NATIVE;
	char err[1024];

	for (int i = 0; i < a->nifaces; i++) {
		struct kg_runtime *rt = &r->rt[i];
		struct kg_sizes sz = {.max_flows = a->max_flows, .pool_slots = a->flow_pool};

		if (kg_runtime_up(rt, a->ifaces[i], hook, &sz, err, sizeof(err))) {
			kg_run_log("%s", err);
			return -1;
		}
		r->nrt++;
		if (rt->tc_ingress)
			kg_run_log("%s: %s (TC ingress prog id %u, TC egress prog id %u), pins in %s",
			      rt->iface, rt->adopted ? "adopted what was pinned" : "attached",
			      rt->ingress_prog_id, rt->tc_prog_id, rt->pin_dir);
		else
			kg_run_log("%s: %s (XDP prog id %u, TC egress prog id %u, XDP link id %u), pins "
			      "in %s",
			      rt->iface, rt->adopted ? "adopted what was pinned" : "attached",
			      rt->ingress_prog_id, rt->tc_prog_id, rt->ingress_link_id, rt->pin_dir);
		if (rt->adopted && rt->tc_ingress != (hook == KG_INGRESS_TC))
			kg_run_log("%s: kept the pinned %s hook ('kgate detach' first to change it)",
			      rt->iface, rt->tc_ingress ? "TC ingress" : "XDP");
		if (!a->quarantine)
			continue;
		if (kg_runtime_set_quarantine(rt, a->quarantine, err, sizeof(err))) {
			kg_run_log("%s", err);
			return -1;
		}
		kg_run_log("%s: redirected connections go to %s", rt->iface, a->quarantine);
	}
	return 0;
}

/* The audit pipeline, the metrics server and the ring buffers of every interface. */
static int open_sinks(struct run *r, const struct run_args *a)
{
	struct kg_audit_opts ao = {
		.node = a->node, .brokers = a->brokers, .topic = a->topic, .file = a->file,
		.spool_dir = a->spool_dir, .observe_sock = r->sock, .lost = kg_datapath_lost,
		.lost_ctx = r->maps, .ifaces = r->ifnames, .nifaces = r->nrt,
		.names = kg_names_resolve,
	};
	struct kg_metrics_sources ms = {.maps = r->maps, .nmaps = r->nrt, .names = kg_names_resolve};
	char err[1024];

	r->names = kg_names_cache_new();
	if (!r->names) {
		kg_run_log("out of memory");
		return -1;
	}
	for (int i = 0; i < r->nrt; i++) {
		r->maps[i] = r->rt[i].maps;
		r->ifnames[i] = r->rt[i].iface;
	}
	ao.names_ctx = ms.names_ctx = r->names;
	r->audit = kg_audit_open(&ao, err, sizeof(err));
	if (!r->audit) {
		kg_run_log("audit: %s", err);
		return -1;
	}
	ms.audit = r->audit; /* read at each scrape: the audit pipeline comes first */
	if (a->metrics_addr && !(r->metrics = kg_metrics_open(a->metrics_addr, &ms, err,
							      sizeof(err)))) {
		kg_run_log("metrics: %s", err);
		return -1;
	}
	r->drain = kg_drain_new(r->audit);
	if (!r->drain) {
		kg_run_log("out of memory");
		return -1;
	}
	for (int i = 0; i < r->nrt; i++) {
		int e = kg_drain_add(r->drain, r->rt[i].maps.events);

		if (e) {
			kg_run_log("%s: opening the event ring buffer: %s", r->rt[i].iface,
				   strerror(-e));
			return -1;
		}
	}
	/* what a killed agent wrote but had not let go of is not recorded twice */
	kg_drain_resume(r->drain);
	return 0;
}

/*
 * Ends the connections idle past the flow timeout, those the broker closed whose client
 * went quiet, and those holding a pool slot without progress (reset: KG_SLOT_STALL_S), on
 * every interface (kgate_sweep checks each again in the kernel).
 */
static void sweep_flows(struct run *r)
{
	const struct kg_sweep_limits lim = {.idle_s = r->flow_timeout, .closed_s = RUN_CLOSED_S,
					    .stall_s = KG_SLOT_STALL_S};

	for (int i = 0; i < r->nrt; i++) {
		struct kg_sweep_stats st;
		int e = kg_flows_sweep(&r->rt[i].maps, r->rt[i].sweep_prog, &lim, &st);

		if (e)
			kg_run_log("%s: sweeping connections: %s", r->rt[i].iface, strerror(-e));
		else if (st.ended || st.errors)
			kg_run_log("%s: %llu of %llu connections ended (idle past %u s or closed; "
				   "%llu reset, stalled holding a slot)%s",
				   r->rt[i].iface, (unsigned long long)st.ended,
				   (unsigned long long)st.seen, r->flow_timeout,
				   (unsigned long long)st.stalled,
				   st.errors ? "; kgate_sweep failed to run" : "");
	}
}

/*
 * Sends the counts of repeated decisions that no later decision will send (bpf/fold.h):
 * of connections that went quiet, or all of them when the agent stops.
 */
static void sweep_folds(struct run *r, bool all)
{
	for (int i = 0; i < r->nrt; i++) {
		__u64 sent;
		int e = kg_folds_sweep(r->rt[i].sweep_prog, all, &sent);

		if (e)
			kg_run_log("%s: sweeping repeated decisions: %s", r->rt[i].iface,
				   strerror(-e));
	}
}

static void main_loop(struct run *r)
{
	struct kg_drain_stats st;
	__u64 last_gap = 0, last_sweep = kg_now_ms(), last_folds = last_sweep;

	while (!stop_sig) {
		bool more;
		__u64 now;

		if (hup) {
			hup = 0;
			kg_run_log("SIGHUP: reading %s", r->policy.path);
			kg_run_policy_reload(&r->policy);
		}
		if (usr1) {
			usr1 = 0;
			int e = kg_audit_reopen(r->audit);

			kg_run_log("SIGUSR1: audit file reopened%s%s", e ? ": " : "",
				   e ? strerror(-e) : "");
		}
		kg_run_policy_poll(&r->policy);
		more = kg_drain_run(r->drain);
		now = kg_now_ms();
		if (now - last_gap >= RUN_GAP_CHECK_MS) {
			kg_audit_check_gaps(r->audit);
			last_gap = now;
		}
		if (now - last_sweep >= RUN_SWEEP_MS) {
			sweep_flows(r);
			last_sweep = now;
		}
		if (now - last_folds >= RUN_FOLD_SWEEP_MS) {
			sweep_folds(r, false);
			last_folds = now;
		}
		/* serves the sinks and the metrics, and sleeps for the rest of the period (not
		 * when a ring buffer had more than one drain takes: back at once) */
		if (kg_metrics_poll_with(r->metrics, r->audit, more ? 0 : RUN_POLL_MS))
			kg_run_log("poll: %s", strerror(errno));
	}
	sweep_folds(r, true); /* nobody sweeps while no agent runs */
	kg_drain_run(r->drain); /* what the datapath submitted before the signal */
	kg_drain_stats(r->drain, &st);
	kg_run_log("%s: stopping after %llu events (%llu unreadable records)", strsignal(stop_sig),
		   st.events, st.bad_records);
}

/*
 * Closes everything; detaches when asked. The exit code: rc, or 1 when a detach failed.
 * After a setup failure (rc != 0) Kafka gets no time: nothing was shipped yet, what the
 * pipeline holds stays spooled for the next agent, and a mistyped option (a --metrics-addr
 * in use) must not keep the operator waiting on an unreachable audit broker.
 */
static int shut_down(struct run *r, const struct run_args *a, int rc)
{
	char err[1024];

	kg_drain_free(r->drain);
	kg_metrics_close(r->metrics);
	if (r->audit)
		kg_audit_close(r->audit, rc ? 0 : RUN_CLOSE_MS);
	for (int i = 0; i < r->nrt; i++) {
		kg_runtime_close(&r->rt[i]);
		if (rc == 0 && a->detach_on_exit) {
			if (kg_runtime_detach(r->rt[i].iface, err, sizeof(err)) < 0) {
				kg_run_log("%s", err);
				rc = 1;
			} else {
				kg_run_log("%s: detached (--detach-on-exit)", r->rt[i].iface);
			}
		} else if (rc == 0) {
			kg_run_log("%s: left attached and pinned; enforcement goes on", r->rt[i].iface);
		}
	}
	kg_names_cache_free(r->names);
	return rc;
}

static void on_signals(void)
{
	struct sigaction sa = {0};

	sa.sa_handler = on_signal; /* no SA_RESTART: a signal ends the wait at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int cmd_run(int argc, char **argv)
{
	static struct run r;
	struct run_args a = {0};
	char host[256], spool[512];
	int rc;

	if ((rc = kg_opt_parse(&kg_cmd_run, argc, argv, &a)) || (rc = check_args(&a)))
		return rc;
	r.policy.path = a.policy;
	r.flow_timeout = a.flow_timeout ? a.flow_timeout : RUN_FLOW_TIMEOUT_S;
	if (!a.node) {
		if (gethostname(host, sizeof(host)))
			snprintf(host, sizeof(host), "unknown");
		host[sizeof(host) - 1] = 0;
		a.node = host;
	}
	if (!a.spool_dir) {
		snprintf(spool, sizeof(spool), "%s/spool", kg_state_dir());
		a.spool_dir = spool;
	}
	snprintf(r.sock, sizeof(r.sock), "%s/observe.sock", kg_run_dir());

	/* a broken policy that would seed an empty store stops the agent before it touches
	 * any interface */
	if (kg_run_policy_precheck(a.policy, a.ifaces, a.nifaces))
		return 1;
	on_signals();
	if (lock_ifaces(&a))
		return 1;
	if (attach_all(&r, &a))
		return shut_down(&r, &a, 1);
	for (int i = 0; i < r.nrt; i++) {
		r.policy.ifs[i].iface = r.rt[i].iface;
		r.policy.ifs[i].maps = &r.rt[i].maps;
	}
	r.policy.n = r.nrt;
	if (kg_run_policy_start(&r.policy) || open_sinks(&r, &a))
		return shut_down(&r, &a, 1);
	r.policy.audit = r.audit;
	kg_run_log("running: node %s, observe socket %s%s%s%s%s", a.node, r.sock,
	      a.file ? ", audit file " : "", a.file ? a.file : "", a.brokers ? ", audit topic " : "",
	      a.brokers ? a.topic : "");
	main_loop(&r);
	return shut_down(&r, &a, 0);
}
