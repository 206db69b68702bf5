// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of agent/drain (the ring buffers into the audit pipeline) on a real BPF ring
 * buffer (as root; skipped without one), with the pipeline's file and spool:
 *
 *  - an agent SIGKILLed in the middle of a batch, after the pipeline held more than
 *    KG_AUDIT_BATCH_BYTES (where it once wrote before the batch was let go): the next
 *    agent on the same ring records every event exactly once;
 *  - a kill between a batch's write and the commit that lets it go (made exactly: the
 *    ring's consumer position is put back where it was before the drain, as the kill
 *    leaves it): the next agent skips what was written, also when the write was cut in
 *    the middle of a packet's events, and records the rest once.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "agent/audit/internal.h"
#include "agent/drain/drain.h"
#include "bpf/kafka_decode.h"
#include "tests/lib/cu_run.h"
#include "tests/lib/insn.h"

/* One ring-buffer record as the datapath writes it: a context and EVENTS decisions about
 * TOPIC-byte topics (what makes records of ~900 bytes: a batch fills up fast). */
#define EVENTS 3
#define TOPIC  200
#define DEC_SIZE KG_REC_DEC_SIZE(0, 0xff, TOPIC)
#define RECSZ  (KG_REC_CTX_SIZE(0) + EVENTS * DEC_SIZE)
#define RING_BYTES (4u << 20)

static char tmpdir[256];

static int suite_init(void)
{
	return cu_tmpdir(tmpdir, sizeof(tmpdir), "drain");
}

static int suite_clean(void)
{
	return cu_tmpdir_remove(tmpdir);
}

/* A socket filter that copies its packet (after the Ethernet header) into one ring record. */
static int copy_prog(int map)
{
	const struct bpf_insn p[] = {
		MOV_X(BPF_REG_6, BPF_REG_1),
		LD_MAP(BPF_REG_1, map),
		MOV_K(BPF_REG_2, RECSZ),
		MOV_K(BPF_REG_3, 0),
		CALL(BPF_FUNC_ringbuf_reserve),
		INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 9, 0),
		MOV_X(BPF_REG_7, BPF_REG_0),
		MOV_X(BPF_REG_1, BPF_REG_6),
		MOV_K(BPF_REG_2, 0),
		MOV_X(BPF_REG_3, BPF_REG_7),
		MOV_K(BPF_REG_4, RECSZ),
		CALL(BPF_FUNC_skb_load_bytes),
		MOV_X(BPF_REG_1, BPF_REG_7),
		MOV_K(BPF_REG_2, 0),
		CALL(BPF_FUNC_ringbuf_submit),
		MOV_K(BPF_REG_0, 0),
		EXIT,
	};

	return bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "t_drain", "GPL", p,
			     sizeof(p) / sizeof(p[0]), NULL);
}

/* Ring record i: its own time, events with correlation ids EVENTS * i + k. */
static void produce(int prog, int from, int n)
{
	static __u8 pkt[14 + RECSZ];

	for (int i = from; i < from + n; i++) {
		struct kg_rec_ctx c = {0};
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt));

		memset(pkt, 0, sizeof(pkt));
		c.h.size = KG_REC_CTX_SIZE(0);
		c.h.type = KG_REC_CTX;
		c.ts_ns = 1000000000ull + i;
		c.flow.family = 4;
		memcpy(pkt + 14, &c, sizeof(c));
		for (int k = 0; k < EVENTS; k++) {
			struct kg_rec_dec d = {0};
			__u8 *at = pkt + 14 + sizeof(c) + k * DEC_SIZE;

			d.h.size = DEC_SIZE;
			d.h.type = KG_REC_DEC;
			d.rule_id = k % 2; /* names are looked up for each event */
			d.corr = EVENTS * i + k;
			d.kind = KG_EV_TOPIC;
			d.verdict = KG_ACT_REJECT;
			d.tkind = KD_TK_NAME;
			d.client_id_len = 0xff;
			d.topic_len = TOPIC;
			memcpy(at, &d, sizeof(d));
			memset(at + sizeof(d), 't', TOPIC);
		}
		CU_ASSERT_EQUAL_FATAL(bpf_prog_test_run_opts(prog, &o), 0);
	}
}

/* The agent's names: and, in a child told so, a SIGKILL at its kill_at'th event. */
static long names_calls, kill_at = -1;

static void names_fn(void *ctx, const struct kg_event *ev, struct kg_event_names *out)
{
	(void)ctx;
	(void)ev;
	snprintf(out->rule, sizeof(out->rule), "r");
	if (names_calls++ == kill_at)
		raise(SIGKILL);
}

static struct kg_audit *open_audit(const char *name)
{
	char spool[300], file[300], err[256];
	struct kg_audit_opts o = {.node = "n1", .brokers = "127.0.0.1:1", .topic = "audit",
				  .names = names_fn};
	struct kg_audit *a;

	snprintf(spool, sizeof(spool), "%s/%s", tmpdir, name);
	snprintf(file, sizeof(file), "%s/%s.jsonl", tmpdir, name);
	o.spool_dir = spool;
	o.file = file;
	a = kg_audit_open(&o, err, sizeof(err));
	if (!a)
		fprintf(stderr, "audit: %s\n", err);
	return a;
}

/* An agent's drains until the rings are empty; its skipped count. */
static unsigned long long agent(const char *name, int map, bool resume)
{
	struct kg_audit *a = open_audit(name);
	struct kg_drain_stats st;
	struct kg_drain *d;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	d = kg_drain_new(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL_FATAL(kg_drain_add(d, map), 0);
	if (resume)
		kg_drain_resume(d);
	while (kg_drain_run(d))
		;
	kg_drain_stats(d, &st);
	kg_drain_free(d);
	kg_audit_close(a, 0);
	return st.skipped;
}

/*
 * Every event 0..n-1 exactly once in the audit file and in the spool, numbered without a
 * repeat. Returns the number of events found more than once (0 is right).
 */
static int count_once(const char *name, int n)
{
	char path[400], *line = NULL;
	int twice = 0, missing = 0;
	size_t cap = 0;
	ssize_t len;
	__u64 last = 0;
	unsigned char *seen = calloc(n, 1);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.jsonl", tmpdir, name);
	f = fopen(path, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while ((len = getline(&line, &cap, f)) > 0) {
		__s64 corr;
		__u64 seq;

		CU_ASSERT_FATAL(kg_rec_u64(line, len, "seq", &seq));
		CU_ASSERT(seq > last); /* numbered in order, none twice */
		last = seq;
		if (!kg_rec_s64(line, len, "correlation_id", &corr))
			continue; /* not an event (a gap record) */
		CU_ASSERT_FATAL(corr >= 0 && corr < n);
		twice += seen[corr]++ > 0;
	}
	for (int i = 0; i < n; i++)
		missing += !seen[i];
	CU_ASSERT_EQUAL(missing, 0);
	if (twice || missing)
		fprintf(stderr, "(%s: %d events twice, %d missing) ", name, twice, missing);
	free(line);
	fclose(f);
	free(seen);
	return twice;
}

static int new_ring(int *prog)
{
	int map = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "t_drain_rb", 0, 0, RING_BYTES, NULL);

	if (map < 0) {
		fprintf(stderr, "(skipped: no BPF ring buffer here: %s) ", strerror(errno));
		return -1;
	}
	*prog = copy_prog(map);
	CU_ASSERT_FATAL(*prog >= 0);
	return map;
}

static void test_kill_in_batch(void)
{
	int prog, map = new_ring(&prog), st, n = 400;
	pid_t pid;

	if (map < 0)
		return;
	produce(prog, 0, n);
	/* ~900-byte records: KG_AUDIT_BATCH_BYTES is held after ~290 events; the kill comes
	 * in the second batch */
	pid = fork();
	if (pid == 0) {
		kill_at = 700;
		agent("k1", map, true);
		_exit(0);
	}
	CU_ASSERT_FATAL(waitpid(pid, &st, 0) == pid);
	CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	/* the next agent on the same ring buffer */
	kill_at = -1;
	agent("k1", map, true);
	CU_ASSERT_EQUAL(count_once("k1", n * EVENTS), 0);
	close(prog);
	close(map);
}

/* The ring's consumer position (the kernel's page, writable by its reader). */
static unsigned long *consumer_page(int map)
{
	void *p = mmap(NULL, sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, MAP_SHARED, map, 0);

	CU_ASSERT_FATAL(p != MAP_FAILED);
	return p;
}

/* Cuts the last `cut` bytes of a file (a write stopped there). */
static void cut_tail(const char *path, off_t cut)
{
	struct stat s;

	CU_ASSERT_FATAL(stat(path, &s) == 0 && s.st_size > cut);
	CU_ASSERT_FATAL(truncate(path, s.st_size - cut) == 0);
}

/* The newest spool segment of agent name. */
static void newest_segment(const char *name, char *out, size_t len)
{
	char cmd[400];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls -d %s/%s/seg-* | tail -1", tmpdir, name);
	p = popen(cmd, "r");
	CU_ASSERT_FATAL(p && fgets(out, len, p));
	out[strcspn(out, "\n")] = 0;
	pclose(p);
}

/*
 * A drain whose last batch was written and not let go: a child drains (committed), more
 * events come, it drains again, then puts the consumer position back (as a kill between
 * the write and the commit leaves it) and dies without closing anything. cut: bytes cut
 * from the end of the file and the newest spool segment afterwards (a write stopped
 * between pages). Then the next agent: every event once.
 */
static void window_case(const char *name, off_t cut)
{
	int prog, map = new_ring(&prog), st, n1 = 100, n2 = 150;
	unsigned long *cons;
	pid_t pid;

	if (map < 0)
		return;
	cons = consumer_page(map);
	produce(prog, 0, n1);
	pid = fork();
	if (pid == 0) {
		struct kg_audit *a = open_audit(name);
		struct kg_drain *d = kg_drain_new(a);
		unsigned long back;

		kg_drain_add(d, map);
		kg_drain_run(d);
		produce(prog, n1, n2);
		back = *cons;
		kg_drain_run(d);
		*cons = back;
		_exit(0);
	}
	CU_ASSERT_FATAL(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	if (cut) {
		char path[400];

		snprintf(path, sizeof(path), "%s/%s.jsonl", tmpdir, name);
		cut_tail(path, cut);
		newest_segment(name, path, sizeof(path));
		cut_tail(path, cut);
	}
	/* without the resume the 450 events (less what the cut took) would come twice */
	CU_ASSERT(agent(name, map, true) > 0);
	CU_ASSERT_EQUAL(count_once(name, (n1 + n2) * EVENTS), 0);
	munmap(cons, sysconf(_SC_PAGESIZE));
	close(prog);
	close(map);
}

static void test_kill_before_commit(void)
{
	window_case("w1", 0);
}

/* ~4.5 records (~900 bytes each) cut: the write ends in the middle of a packet's events */
static void test_kill_before_commit_cut(void)
{
	window_case("w2", 4000);
}

int register_drain_tests(void)
{
	CU_pSuite s = CU_add_suite("ring buffers into the audit pipeline", suite_init, suite_clean);

	if (!s)
		return -1;
	if (!CU_add_test(s, "SIGKILL in a batch past KG_AUDIT_BATCH_BYTES: every event once",
			 test_kill_in_batch) ||
	    !CU_add_test(s, "kill between a batch's write and its commit: skipped at restart",
			 test_kill_before_commit) ||
	    !CU_add_test(s, "... the write cut in a packet's events: the rest recorded once",
			 test_kill_before_commit_cut))
		return -1;
	return 0;
}
