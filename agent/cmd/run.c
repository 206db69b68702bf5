// SPDX-License-Identifier: Apache-2.0
/*
 * kgate run: the agent. Attaches (or adopts) the datapath on each interface, applies the
 * policy, then ships every decision event from the ring buffers to the audit pipeline
 * (agent/audit.h) until SIGTERM/SIGINT; SIGHUP reloads the policy file.
 *
 * The datapath sends a packet's events as one record with BPF_RB_NO_WAKEUP (a wakeup per
 * record would cost more than the decisions), so the ring buffers are drained on a
 * timer, not on epoll; agent/events.h splits each record into its events.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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
#include "agent/datapath/events.h"
#include "agent/datapath/datapath.h"

/* Interfaces one agent serves (the audit pipeline reads every one): more -> usage error. */
#define RUN_MAX_IFACES KG_AUDIT_MAX_IFACES
/* Ring buffers are drained this often: the added latency of an event, and of a gap check. */
#define RUN_POLL_MS 50
/* Lost-event counters are compared this often. */
#define RUN_GAP_CHECK_MS 500
/* Kafka gets this long to deliver what is queued on exit; the rest stays spooled. */
#define RUN_CLOSE_MS 5000

const struct kg_cmd kg_cmd_run = {
	.name = "run",
	.summary = "the agent: attach or adopt, apply the policy, ship audit events",
	.usage =
		"usage: kgate run --iface IF [--iface IF2 ...] --policy FILE [options]\n"
		"\n"
		"Attaches kgate to each interface (XDP on ingress: client -> broker; TC egress:\n"
		"broker -> client), pins programs, links and maps under\n"
		"/sys/fs/bpf/kgate/IF/, applies the policy FILE, then ships every decision\n"
		"event to the audit sinks until stopped. When the interface's pins exist (an\n"
		"agent ran before) they are adopted: nothing is reloaded or re-attached and\n"
		"enforcement never stops; the policy is applied only if it differs from the\n"
		"active one.\n"
		"\n"
		"Options:\n"
		"  --iface IF                 broker-facing interface (repeatable, up to 8)\n"
		"  --policy FILE              policy file (YAML; see 'kgate policy check')\n"
		"  --xdp-mode native|generic  XDP attach mode for a fresh attach (default native)\n"
		"  --tc-ingress               enforce at TC ingress instead of XDP (interfaces\n"
		"                             where XDP cannot attach; same policy, same maps)\n"
		"  --quarantine-iface IF      where the `redirect` action sends connections\n"
		"  --audit-brokers H:P,...    Kafka brokers of the audit topic\n"
		"  --audit-topic T            the audit topic (required with --audit-brokers)\n"
		"  --audit-file PATH          append-only JSON-lines audit file\n"
		"  --spool-dir DIR            spool for undelivered records and the sequence\n"
		"                             number (default STATE_DIR/spool)\n"
		"  --metrics-addr ADDR:PORT   serve Prometheus metrics\n"
		"  --node NAME                node name in records (default: the host name)\n"
		"  --detach-on-exit           remove everything on SIGTERM/SIGINT\n"
		"\n"
		"Live decisions: 'kgate observe' (socket RUN_DIR/observe.sock).\n"
		"Signals: SIGTERM, SIGINT stop the agent and leave enforcement pinned (unless\n"
		"--detach-on-exit); SIGHUP re-reads --policy (a broken file is logged as\n"
		"FILE:LINE:COL and the running policy stays).\n"
		"Directories: pins /sys/fs/bpf/kgate, state /var/lib/kgate, run /run/kgate\n"
		"(KGATE_PIN_ROOT, KGATE_STATE_DIR, KGATE_RUN_DIR override them). Pins need a\n"
		"BPF filesystem: one is mounted at /sys/fs/bpf when none is.\n"
		"Logs go to stderr. Exit 0 on a signal, 1 when setup fails, 2 on usage errors.\n",
	.run = cmd_run,
};

static volatile sig_atomic_t stop_sig, hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		hup = 1;
	else
		stop_sig = sig;
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	char when[32];
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ kgate: ", when, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

struct run {
	struct kg_runtime rt[RUN_MAX_IFACES];
	int nrt;
	const char *policy_path;
	struct kg_audit *audit;
	struct kg_names_cache *names;
	unsigned long long events;
	unsigned long long bad_records; /* ring-buffer records that were not event lists */
};

static int apply_all(struct run *r, bool skip_same)
{
	struct kg_policy_file f;
	char err[1024];
	int rc = 0;

	if (kg_policy_file_load(&f, r->policy_path, err, sizeof(err))) {
		logf_("%s", err);
		kg_policy_file_free(&f);
		return -1;
	}
	for (int i = 0; i < r->nrt; i++) {
		struct kg_apply_result res;

		if (kg_policy_apply(r->rt[i].iface, &r->rt[i].maps, &f, skip_same, &res, err,
				    sizeof(err))) {
			logf_("%s: policy %s not applied: %s", r->rt[i].iface, r->policy_path, err);
			rc = -1;
			continue;
		}
		if (res.unchanged)
			logf_("%s: policy \"%s\" (version id %u) already active", r->rt[i].iface,
			      res.new_version, res.new_id);
		else
			logf_("%s: policy \"%s\" (version id %u) -> \"%s\" (version id %u), "
			      "generation %d -> %d, written in %.0f us, swapped in %.1f us",
			      r->rt[i].iface, res.old_id ? res.old_version : "none", res.old_id,
			      res.new_version, res.new_id, res.old_gen, res.new_gen, res.write_us,
			      res.swap_us);
	}
	kg_policy_file_free(&f);
	return rc;
}

static void on_decision(void *ctx, const struct kg_event *e)
{
	struct run *r = ctx;

	r->events++;
	kg_audit_event(r->audit, e);
}

/* One ring-buffer record: the decision events of one packet. */
static int on_record(void *ctx, void *data, size_t size)
{
	struct run *r = ctx;

	/* events before a fault were shipped; a record this agent cannot read is skipped */
	if (kg_events_each(data, size, on_decision, r) < 0 && !r->bad_records++)
		logf_("event ring buffer: a record of %zu bytes is not a list of events this "
		      "agent knows (a datapath of another version?): skipped, and later ones "
		      "counted", size);
	return 0;
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int cmd_run(int argc, char **argv)
{
	enum {
		O_IFACE = 256,
		O_POLICY,
		O_XDP,
		O_QUAR,
		O_BROKERS,
		O_TOPIC,
		O_FILE,
		O_SPOOL,
		O_METRICS,
		O_NODE,
		O_DETACH,
		O_TCI
	};
	static const struct option opts[] = {
		{"iface", required_argument, NULL, O_IFACE},
		{"policy", required_argument, NULL, O_POLICY},
		{"xdp-mode", required_argument, NULL, O_XDP},
		{"quarantine-iface", required_argument, NULL, O_QUAR},
		{"audit-brokers", required_argument, NULL, O_BROKERS},
		{"audit-topic", required_argument, NULL, O_TOPIC},
		{"audit-file", required_argument, NULL, O_FILE},
		{"spool-dir", required_argument, NULL, O_SPOOL},
		{"metrics-addr", required_argument, NULL, O_METRICS},
		{"node", required_argument, NULL, O_NODE},
		{"detach-on-exit", no_argument, NULL, O_DETACH},
		{"tc-ingress", no_argument, NULL, O_TCI},
		{0},
	};
	const char *ifaces[RUN_MAX_IFACES], *quarantine = NULL;
	struct kg_audit_opts ao = {0};
	struct kg_maps amaps[RUN_MAX_IFACES];
	const char *anames[RUN_MAX_IFACES];
	enum kg_xdp_mode mode = KG_XDP_NATIVE;
	bool detach_on_exit = false, tc_ingress = false, xdp_mode_given = false;
	char err[1024], host[256], sock[512], spool[512];
	struct ring_buffer *rb = NULL;
	struct sigaction sa = {0};
	static struct run r;
	int nif = 0, c, rc = 1;
	double last_gap = 0;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_IFACE:
			if (nif == RUN_MAX_IFACES)
				return kg_usage_error(&kg_cmd_run, "at most %d --iface",
						      RUN_MAX_IFACES);
			for (int i = 0; i < nif; i++)
				if (!strcmp(ifaces[i], optarg))
					return kg_usage_error(&kg_cmd_run, "--iface %s given twice",
							      optarg);
			ifaces[nif++] = optarg;
			break;
		case O_POLICY:
			r.policy_path = optarg;
			break;
		case O_XDP:
			xdp_mode_given = true;
			if (!strcmp(optarg, "native"))
				mode = KG_XDP_NATIVE;
			else if (!strcmp(optarg, "generic"))
				mode = KG_XDP_GENERIC;
			else
				return kg_usage_error(&kg_cmd_run,
						      "--xdp-mode: '%s' is not native or generic",
						      optarg);
			break;
		case O_QUAR:
			quarantine = optarg;
			break;
		case O_BROKERS:
			ao.brokers = optarg;
			break;
		case O_TOPIC:
			ao.topic = optarg;
			break;
		case O_FILE:
			ao.file = optarg;
			break;
		case O_SPOOL:
			ao.spool_dir = optarg;
			break;
		case O_METRICS:
			ao.metrics_addr = optarg;
			break;
		case O_NODE:
			ao.node = optarg;
			break;
		case O_DETACH:
			detach_on_exit = true;
			break;
		case O_TCI:
			tc_ingress = true;
			break;
		case ':':
			return kg_usage_error(&kg_cmd_run, "option '%s' needs a value",
					      argv[optind - 1]);
		default:
			return kg_usage_error(&kg_cmd_run, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return kg_usage_error(&kg_cmd_run, "unexpected argument '%s'", argv[optind]);
	if (!nif)
		return kg_usage_error(&kg_cmd_run, "--iface is required");
	if (tc_ingress && xdp_mode_given)
		return kg_usage_error(&kg_cmd_run,
				      "--tc-ingress and --xdp-mode exclude each other");
	if (tc_ingress)
		mode = KG_TC_INGRESS;
	if (!r.policy_path)
		return kg_usage_error(&kg_cmd_run, "--policy is required");
	if (!!ao.brokers != !!ao.topic)
		return kg_usage_error(&kg_cmd_run, "--audit-brokers and --audit-topic go together");
	if (!ao.node) {
		if (gethostname(host, sizeof(host)))
			snprintf(host, sizeof(host), "unknown");
		host[sizeof(host) - 1] = 0;
		ao.node = host;
	}
	if (!ao.spool_dir) {
		snprintf(spool, sizeof(spool), "%s/spool", kg_state_dir());
		ao.spool_dir = spool;
	}

	/* a broken policy stops the agent before it touches any interface */
	{
		struct kg_policy_file f;

		if (kg_policy_file_load(&f, r.policy_path, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			kg_policy_file_free(&f);
			return 1;
		}
		kg_policy_file_free(&f);
	}

	sa.sa_handler = on_signal; /* no SA_RESTART: a signal ends the wait at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (mkdir(kg_run_dir(), 0755) && errno != EEXIST) {
		logf_("%s: %s", kg_run_dir(), strerror(errno));
		return 1;
	}
	/*
	 * One agent per interface: a second would adopt the same pins and drain half of
	 * the ring buffer. The lock goes with the process, also on SIGKILL.
	 */
	for (int i = 0; i < nif; i++) {
		char lock[600];
		int fd;

		snprintf(lock, sizeof(lock), "%s/%s.lock", kg_run_dir(), ifaces[i]);
		fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB)) {
			logf_("%s: %s", ifaces[i],
			      fd >= 0 && errno == EWOULDBLOCK
				      ? "another 'kgate run' serves this interface"
				      : strerror(errno));
			return 1;
		}
		/* kept open (and locked) until exit */
	}

	for (int i = 0; i < nif; i++) {
		struct kg_runtime *rt = &r.rt[i];

		if (kg_runtime_up(rt, ifaces[i], mode, err, sizeof(err))) {
			logf_("%s", err);
			goto out;
		}
		r.nrt++;
		if (rt->tc_ingress)
			logf_("%s: %s (TC ingress prog id %u, TC egress prog id %u), pins in %s",
			      rt->iface, rt->adopted ? "adopted what was pinned" : "attached",
			      rt->xdp_prog_id, rt->tc_prog_id, rt->pin_dir);
		else
			logf_("%s: %s (XDP prog id %u, TC egress prog id %u, XDP link id %u), pins "
			      "in %s",
			      rt->iface, rt->adopted ? "adopted what was pinned" : "attached",
			      rt->xdp_prog_id, rt->tc_prog_id, rt->xdp_link_id, rt->pin_dir);
		if (rt->adopted && rt->tc_ingress != (mode == KG_TC_INGRESS))
			logf_("%s: kept the pinned %s hook ('kgate detach' first to change it)",
			      rt->iface, rt->tc_ingress ? "TC ingress" : "XDP");
		if (quarantine) {
			if (kg_runtime_set_quarantine(rt, quarantine, err, sizeof(err))) {
				logf_("%s", err);
				goto out;
			}
			logf_("%s: redirected connections go to %s", rt->iface, quarantine);
		}
	}
	if (apply_all(&r, true))
		goto out;

	r.names = kg_names_cache_new();
	if (!r.names) {
		logf_("out of memory");
		goto out;
	}
	snprintf(sock, sizeof(sock), "%s/observe.sock", kg_run_dir());
	ao.observe_sock = sock;
	for (int i = 0; i < r.nrt; i++) {
		amaps[i] = r.rt[i].maps;
		anames[i] = r.rt[i].iface;
	}
	ao.maps = amaps;
	ao.ifaces = anames;
	ao.nmaps = r.nrt;
	ao.names = kg_names_resolve;
	ao.names_ctx = r.names;
	r.audit = kg_audit_open(&ao, err, sizeof(err));
	if (!r.audit) {
		logf_("audit: %s", err);
		goto out;
	}
	for (int i = 0; i < r.nrt; i++) {
		int e = 0;

		if (!rb)
			rb = ring_buffer__new(r.rt[i].maps.events, on_record, &r, NULL);
		else
			e = ring_buffer__add(rb, r.rt[i].maps.events, on_record, &r);
		if (!rb || e) {
			logf_("%s: opening the event ring buffer: %s", r.rt[i].iface,
			      strerror(errno));
			goto out;
		}
	}
	logf_("running: node %s, observe socket %s%s%s%s%s", ao.node, sock,
	      ao.file ? ", audit file " : "", ao.file ? ao.file : "",
	      ao.brokers ? ", audit topic " : "", ao.brokers ? ao.topic : "");

	while (!stop_sig) {
		double now;

		if (hup) {
			hup = 0;
			logf_("SIGHUP: reloading %s", r.policy_path);
			apply_all(&r, true);
		}
		if (ring_buffer__consume(rb) < 0 && errno != EINTR)
			logf_("ring buffer: %s", strerror(errno));
		now = mono_ms();
		if (now - last_gap >= RUN_GAP_CHECK_MS) {
			kg_audit_check_gaps(r.audit);
			last_gap = now;
		}
		/* serves the sinks and sleeps for the rest of the period */
		kg_audit_poll(r.audit, RUN_POLL_MS);
	}
	ring_buffer__consume(rb); /* what the datapath submitted before the signal */
	logf_("%s: stopping after %llu events (%llu unreadable records)", strsignal(stop_sig),
	      r.events, r.bad_records);
	rc = 0;
out:
	ring_buffer__free(rb);
	if (r.audit)
		kg_audit_close(r.audit, RUN_CLOSE_MS);
	for (int i = 0; i < r.nrt; i++) {
		kg_runtime_close(&r.rt[i]);
		if (rc == 0 && detach_on_exit) {
			int d = kg_runtime_detach(r.rt[i].iface, err, sizeof(err));

			if (d < 0) {
				logf_("%s", err);
				rc = 1;
			} else {
				logf_("%s: detached (--detach-on-exit)", r.rt[i].iface);
			}
		} else if (rc == 0) {
			logf_("%s: left attached and pinned; enforcement goes on", r.rt[i].iface);
		}
	}
	kg_names_cache_free(r.names);
	return rc;
}
