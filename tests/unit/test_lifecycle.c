// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of what the policy store and the lifecycle build on, without a datapath:
 *
 *  - SHA-256 (agent/lib/sha256.c) against FIPS 180-4's examples and against Python's
 *    hashlib at every length around the padding's block boundaries; the digest's text;
 *  - durations (kg_parse_duration): units, sums, what is refused;
 *  - the audit side: a `policy` record (kg_audit_append) numbered and headed like a
 *    decision; the `sample` of decision records; the audit file reopened after a move,
 *    on request (SIGUSR1's kg_audit_reopen) and by itself, nothing lost, seq unbroken;
 *  - the store's files read back: the journal (both files, whole lines only, after a
 *    given entry), the agent's recorded mark, the state (current, pause, pending, the
 *    file's digest, the last entry) as an older kgate kept it and as the state file;
 *    change numbers past a 64 KiB journal;
 *  - confirm deadlines by the boot clock within a boot, by the wall clock across boots;
 *  - the store's lock: 0600, a loose one replaced, the journal read under it.
 * Applies, rollbacks, pauses and reverts on a real datapath: tests/agent/test_lifecycle.sh;
 * the store under faults: tests/agent/test_store.sh.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/audit/internal.h"
#include "agent/policy/store.h"

static char dir[64];

static int suite_init(void)
{
	snprintf(dir, sizeof(dir), "/tmp/kgate-test-life.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	return setenv("KGATE_STATE_DIR", dir, 1);
}

static int suite_clean(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	unsetenv("KGATE_STATE_DIR");
	return system(cmd) == 0 ? 0 : -1;
}

static void hex(const __u8 d[32], char out[65])
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_sha256(void)
{
	static const struct {
		const char *in;
		size_t n; /* of 'a's when in is NULL */
		const char *want;
	} v[] = {
		/* FIPS 180-4 (and its example document) */
		{"", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", 0, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 0,
		 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
		{NULL, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
		/* hashlib: the lengths where the padding takes one block or two */
		{NULL, 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
		{NULL, 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
		{NULL, 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
		{NULL, 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
		{NULL, 65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
		{NULL, 119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
		{NULL, 120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
	};
	char *as = malloc(1000000), got[65], text[KG_DIGEST_LEN];
	__u8 d[32];

	CU_ASSERT_FATAL(as != NULL);
	memset(as, 'a', 1000000);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		kg_sha256(v[i].in ? v[i].in : as, v[i].in ? strlen(v[i].in) : v[i].n, d);
		hex(d, got);
		CU_ASSERT_STRING_EQUAL(got, v[i].want);
	}
	kg_digest("abc", 3, text);
	CU_ASSERT_STRING_EQUAL(text, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb4"
				     "10ff61f20015ad");
	free(as);
}

static void test_duration(void)
{
	static const struct {
		const char *s;
		int rc;
		__u64 ns;
	} v[] = {
		{"90s", 0, 90000000000ull},    {"5m", 0, 300000000000ull},
		{"1h30m", 0, 5400000000000ull}, {"500ms", 0, 500000000ull},
		{"2d", 0, 172800000000000ull},  {"1m30s250ms", 0, 90250000000ull},
		{"0s", 0, 0},                   {"5", -1, 0},
		{"", -1, 0},                    {"s", -1, 0},
		{"1x", -1, 0},                  {"5m3", -1, 0},
		{"-5s", -1, 0},                 {"1 s", -1, 0},
		{"1sec", -1, 0},                {"99999999999999999999s", -1, 0},
		{"300000d", -1, 0},
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		__u64 ns = 12345;
		int rc = kg_parse_duration(v[i].s, &ns);

		CU_ASSERT_EQUAL(rc, v[i].rc);
		if (rc != v[i].rc)
			fprintf(stderr, "duration '%s': %d\n", v[i].s, rc);
		if (!v[i].rc)
			CU_ASSERT_EQUAL(ns, v[i].ns);
	}
}

/* An allow event of kind topic whose names give the sampling rate n. */
static int encode_sample(__u8 kind, __u8 verdict, __u32 n, char *b, size_t len)
{
	struct kg_event ev = {.kind = kind, .verdict = verdict, .enforced = 1, .rule_id = ~0u,
			      .flow = {.family = 4}, .client_id_len = 0xff};
	struct kg_event_names names = {.allow_sample = n};

	return kg_audit_encode_at(b, len, &ev, &names, 1, "n", 1);
}

static void test_sample_field(void)
{
	char b[KG_AUDIT_RECORD_MAX];
	__u64 v;

	/* a sampled allow stands for n decisions; a deny is always recorded: 1 */
	CU_ASSERT(encode_sample(KG_EV_TOPIC, KG_ACT_ALLOW, 4, b, sizeof(b)) > 0);
	CU_ASSERT(kg_rec_u64(b, strlen(b), "sample", &v) && v == 4);
	CU_ASSERT(encode_sample(KG_EV_REQUEST, KG_ACT_ALLOW, 100, b, sizeof(b)) > 0);
	CU_ASSERT(kg_rec_u64(b, strlen(b), "sample", &v) && v == 100);
	CU_ASSERT(encode_sample(KG_EV_TOPIC, KG_ACT_REJECT, 4, b, sizeof(b)) > 0);
	CU_ASSERT(kg_rec_u64(b, strlen(b), "sample", &v) && v == 1);
	CU_ASSERT(encode_sample(KG_EV_TOPIC, KG_ACT_ALLOW, 1, b, sizeof(b)) > 0);
	CU_ASSERT(kg_rec_u64(b, strlen(b), "sample", &v) && v == 1);
	/* undecodable and connection records are never sampled */
	CU_ASSERT(encode_sample(KG_EV_UNDECODABLE, KG_ACT_ALLOW, 4, b, sizeof(b)) > 0);
	CU_ASSERT(kg_rec_u64(b, strlen(b), "sample", &v) && v == 1);
	/* the version's policy not known: null, never a guess */
	CU_ASSERT(encode_sample(KG_EV_TOPIC, KG_ACT_ALLOW, 0, b, sizeof(b)) > 0);
	CU_ASSERT(strstr(b, "\"sample\":null,") != NULL);
}

static void test_policy_record(void)
{
	const char *fields = "\"kind\":\"policy\",\"change\":3,\"step\":\"pause\",\"user\":\"ann\"";
	char b[KG_AUDIT_RECORD_MAX], s[32];
	__u64 v;
	int n = kg_audit_encode_fields(b, sizeof(b), "node-1", 9, 1795822500123456789ull, fields,
				       strlen(fields));

	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_STRING_EQUAL(b, "{\"node\":\"node-1\",\"seq\":9,\"time\":\"2026-11-27T23:35:00."
				  "123456789Z\",\"ts_ns\":1795822500123456789,\"kind\":\"policy\","
				  "\"change\":3,\"step\":\"pause\",\"user\":\"ann\"}");
	CU_ASSERT(kg_rec_u64(b, n, "change", &v) && v == 3);
	CU_ASSERT(kg_rec_str(b, n, "step", s, sizeof(s)) && !strcmp(s, "pause"));
	/* too long for the record: refused, not cut */
	CU_ASSERT(kg_audit_encode_fields(b, 40, "node-1", 9, 1, fields, strlen(fields)) < 0);
}

static int count_lines(const char *path, const char *needle)
{
	char line[KG_AUDIT_RECORD_MAX];
	FILE *f = fopen(path, "r");
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += !needle || strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/* The audit file moved away: by request, then noticed by itself; nothing lost. */
static void test_reopen(void)
{
	char file[128], moved1[128], moved2[128], err[256];
	const char *f = "\"kind\":\"policy\",\"change\":1";
	struct kg_audit_opts o = {.node = "n", .file = file};
	struct kg_audit *a;

	snprintf(file, sizeof(file), "%s/audit.jsonl", dir);
	snprintf(moved1, sizeof(moved1), "%s/audit.1", dir);
	snprintf(moved2, sizeof(moved2), "%s/audit.2", dir);
	a = kg_audit_open(&o, err, sizeof(err));
	CU_ASSERT_FATAL(a != NULL);
	CU_ASSERT_EQUAL(kg_audit_append(a, 1, f, strlen(f)), 0);
	CU_ASSERT_EQUAL(rename(file, moved1), 0);
	/* between the move and the reopen, records go on into the moved file */
	CU_ASSERT_EQUAL(kg_audit_append(a, 2, f, strlen(f)), 0);
	CU_ASSERT_EQUAL(kg_audit_reopen(a), 0);
	CU_ASSERT_EQUAL(kg_audit_append(a, 3, f, strlen(f)), 0);
	CU_ASSERT_EQUAL(count_lines(moved1, NULL), 2);
	CU_ASSERT_EQUAL(count_lines(file, "\"seq\":3,"), 1);
	/* moved without telling: noticed within KG_AUDIT_REOPEN_CHECK_MS, at a poll */
	CU_ASSERT_EQUAL(rename(file, moved2), 0);
	kg_audit_poll(a, 0);
	usleep((KG_AUDIT_REOPEN_CHECK_MS + 100) * 1000);
	kg_audit_poll(a, 0);
	CU_ASSERT_EQUAL(kg_audit_append(a, 4, f, strlen(f)), 0);
	kg_audit_close(a, 0);
	CU_ASSERT_EQUAL(count_lines(moved2, NULL), 1);
	CU_ASSERT_EQUAL(count_lines(file, NULL), 1);
	CU_ASSERT_EQUAL(count_lines(file, "\"seq\":4,"), 1);
}

static void put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/eth7/%s", dir, name);
	mkdir((snprintf(path, sizeof(path), "%s/eth7", dir), path), 0755);
	snprintf(path, sizeof(path), "%s/eth7/%s", dir, name);
	f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs(text, f);
	fclose(f);
}

struct seen {
	__u64 change[8];
	int n;
	int stop_at;
};

static int on_entry(void *ctx, __u64 change, __u64 time_ns, const char *fields, size_t len)
{
	struct seen *s = ctx;

	CU_ASSERT(time_ns == change * 10);
	CU_ASSERT(len > 0 && !strncmp(fields, "\"kind\":\"policy\"", 15) && fields[len - 1] != '}');
	s->change[s->n++] = change;
	return s->n == s->stop_at;
}

#define ENTRY(n) "{\"ts_ns\":" #n "0,\"kind\":\"policy\",\"change\":" #n ",\"step\":\"apply\"}\n"

static void test_journal(void)
{
	struct seen s = {0};
	struct kg_store_state st;

	/* the rotated file first, then the current one; a line being written is not read */
	put("journal.1", ENTRY(1) ENTRY(2));
	put("journal", ENTRY(3) ENTRY(4) "{\"ts_ns\":50,\"kind\":\"policy\",\"change\":5,\"st");
	CU_ASSERT_EQUAL(kg_journal_each("eth7", 0, on_entry, &s, false), 0);
	CU_ASSERT_EQUAL(s.n, 4);
	CU_ASSERT(s.change[0] == 1 && s.change[3] == 4);
	s = (struct seen){0};
	CU_ASSERT_EQUAL(kg_journal_each("eth7", 2, on_entry, &s, false), 0);
	CU_ASSERT(s.n == 2 && s.change[0] == 3 && s.change[1] == 4);
	s = (struct seen){.stop_at = 1};
	CU_ASSERT_EQUAL(kg_journal_each("eth7", 0, on_entry, &s, false), 0);
	CU_ASSERT_EQUAL(s.n, 1);
	/* an interface never seen: nothing, no error */
	s = (struct seen){0};
	CU_ASSERT_EQUAL(kg_journal_each("eth8", 0, on_entry, &s, false), 0);
	CU_ASSERT_EQUAL(s.n, 0);

	CU_ASSERT_EQUAL(kg_journal_recorded("eth7"), 0);
	CU_ASSERT_EQUAL(kg_journal_set_recorded("eth7", 4), 0);
	CU_ASSERT_EQUAL(kg_journal_recorded("eth7"), 4);

	put("current", "id 12 paused 1\n");
	put("pending", "id 12 revert_to 9 deadline_ns 77 guard_rejects 5 guard_undecodable 0 "
		       "change 4\n");
	put("file", "sha256:00ff /etc/kgate/a b.yaml\n");
	CU_ASSERT_EQUAL(kg_store_state("eth7", &st), 0);
	CU_ASSERT(st.current == 12 && st.paused && st.has_pending);
	CU_ASSERT(st.pending.id == 12 && st.pending.revert_to == 9 && st.pending.deadline_ns == 77);
	CU_ASSERT(st.pending.guard_rejects == 5 && !st.pending.guard_undecodable);
	CU_ASSERT_STRING_EQUAL(st.file_digest, "sha256:00ff");
	CU_ASSERT_STRING_EQUAL(st.file_path, "/etc/kgate/a b.yaml");
	CU_ASSERT_EQUAL(st.last_change, 4);
	CU_ASSERT_EQUAL(kg_store_state("eth8", &st), 0);
	CU_ASSERT(!st.current && !st.has_pending && !*st.file_digest && !st.last_change);
}

/* A journal far past 64 KiB (an older kgate's, with no state file): its last entry is
 * found from its tail, so change numbers go on from it (they restarted at 1). */
static void test_journal_numbers(void)
{
	struct kg_store_state st;
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/eth5", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/eth5/journal", dir);
	f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	for (int i = 1; i <= 300; i++)
		fprintf(f, "{\"ts_ns\":%d0,\"kind\":\"policy\",\"change\":%d,\"step\":\"apply\","
			   "\"pad\":\"%0400d\"}\n",
			i, i, 0);
	fprintf(f, "{\"ts_ns\":3010,\"kind\":\"policy\",\"change\":301,\"st"); /* torn */
	fclose(f);
	CU_ASSERT_EQUAL(kg_store_state("eth5", &st), 0);
	CU_ASSERT_EQUAL(st.last_change, 300);
	CU_ASSERT_EQUAL(st.mode, KG_MODE_UNKNOWN);
	/* the state file keeps the number (and the mode) itself: a journal that says less
	 * (rotated away) does not take it back */
	snprintf(path, sizeof(path), "%s/eth5/state", dir);
	f = fopen(path, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs("kgate-store-state 1\nchange 900\ncurrent 4\npaused 1\nmode monitor\n"
	      "pending_id 4\npending_revert_to 3\npending_deadline_ns 77\n"
	      "pending_boot_deadline_ns 55\npending_boot_id abc\npending_change 899\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(kg_store_state("eth5", &st), 0);
	CU_ASSERT(st.last_change == 900 && st.current == 4 && st.paused);
	CU_ASSERT(st.mode == KG_MODE_MONITOR && st.has_pending && !st.has_intent);
	CU_ASSERT(st.pending.id == 4 && st.pending.revert_to == 3 && st.pending.deadline_ns == 77);
	CU_ASSERT(st.pending.boot_deadline_ns == 55 && !strcmp(st.pending.boot_id, "abc"));
}

/* A confirm deadline: by the boot clock within its boot, by the wall clock across boots. */
static void test_pending_due(void)
{
	struct kg_pending p = {.deadline_ns = 1000, .boot_deadline_ns = 500};

	snprintf(p.boot_id, sizeof(p.boot_id), "boot-a");
	/* the wall clock stepped forward past the deadline: the boot clock says not yet */
	CU_ASSERT(!kg_pending_due(&p, 5000, 499, "boot-a"));
	/* the wall clock stepped back: the boot clock says it is time */
	CU_ASSERT(kg_pending_due(&p, 10, 500, "boot-a"));
	/* another boot: its boot clock says nothing of this one's; the wall clock decides */
	CU_ASSERT(kg_pending_due(&p, 1000, 1, "boot-b"));
	CU_ASSERT(!kg_pending_due(&p, 999, 10000, "boot-b"));
	/* kept by an older kgate (no boot id): the wall clock */
	*p.boot_id = 0;
	CU_ASSERT(kg_pending_due(&p, 1000, 0, "boot-a"));
}

/* The store's lock: 0600; a loose one (an older kgate's 0644) replaced, so that whoever
 * holds the old file holds nothing; the journal read under it, shared, or not waited for. */
static void test_store_lock(void)
{
	char path[256];
	struct stat st, before;
	struct seen s = {0};
	int old, fd, other;

	snprintf(path, sizeof(path), "%s/lock", dir);
	fd = kg_lock_file(path, LOCK_EX | LOCK_NB);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(!fstat(fd, &st) && (st.st_mode & 0777) == 0600);
	/* held: another open file (as another process would) neither locks nor reads */
	CU_ASSERT_EQUAL(kg_lock_file(path, LOCK_SH | LOCK_NB), -EWOULDBLOCK);
	CU_ASSERT_EQUAL(kg_journal_each("eth7", 0, on_entry, &s, true), -EWOULDBLOCK);
	CU_ASSERT_EQUAL(s.n, 0);
	close(fd);
	CU_ASSERT_EQUAL(kg_journal_each("eth7", 0, on_entry, &s, true), 0);
	CU_ASSERT_EQUAL(s.n, 4);
	/* an older kgate's lock, held by someone who could open it */
	CU_ASSERT_EQUAL(chmod(path, 0644), 0);
	old = open(path, O_RDONLY);
	CU_ASSERT_FATAL(old >= 0);
	CU_ASSERT_EQUAL(flock(old, LOCK_EX | LOCK_NB), 0);
	fstat(old, &before);
	other = kg_lock_file(path, LOCK_EX | LOCK_NB);
	CU_ASSERT(other >= 0);
	CU_ASSERT(!stat(path, &st) && st.st_ino != before.st_ino && (st.st_mode & 0777) == 0600);
	close(other);
	close(old);
}

int register_lifecycle_tests(void)
{
	CU_pSuite s = CU_add_suite("policy store and lifecycle", suite_init, suite_clean);

	if (!s)
		return -1;
	if (!CU_add_test(s, "SHA-256: FIPS examples, every padding boundary", test_sha256) ||
	    !CU_add_test(s, "durations: units, sums, refusals", test_duration) ||
	    !CU_add_test(s, "decision records: sample (sampled allows, denies, unknown)",
			 test_sample_field) ||
	    !CU_add_test(s, "policy records: the head of a decision, then the fields",
			 test_policy_record) ||
	    !CU_add_test(s, "audit file moved: reopened on request and by itself, nothing lost",
			 test_reopen) ||
	    !CU_add_test(s, "the store's journal and state read back", test_journal) ||
	    !CU_add_test(s, "change numbers: a journal past 64 KiB, the state's own counter",
			 test_journal_numbers) ||
	    !CU_add_test(s, "confirm deadlines: the boot clock within a boot, the wall across",
			 test_pending_due) ||
	    !CU_add_test(s, "the store's lock: 0600, a loose one replaced, the journal read "
			    "under it", test_store_lock))
		return -1;
	return 0;
}
