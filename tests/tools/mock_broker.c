// SPDX-License-Identifier: Apache-2.0
/*
 * mock_broker: a one-broker Kafka cluster for tests, built on librdkafka's
 * mock cluster (rdkafka_mock.h). kcat 1.7.1 has no -M mock mode, so tests
 * start this instead.
 *
 *   mock_broker [--topic NAME[:PARTITIONS]]... [--no-stdin]
 *
 * On success it prints exactly one line on stdout, "BOOTSTRAP host:port",
 * flushes it, and then serves until SIGTERM, SIGINT or EOF on stdin (unless
 * --no-stdin). Lines on stdin are commands: "down" and "up" take the broker
 * off the network and bring it back (rd_kafka_mock_broker_set_down/up: its
 * connections are closed and new ones refused, its data is kept); each is
 * acknowledged on stderr ("mock_broker: down"). "produce-error CODE N" makes
 * the next N Produce requests fail with Kafka error CODE (e.g. 10,
 * MESSAGE_TOO_LARGE: one librdkafka does not retry). Other lines are ignored.
 * Everything else (librdkafka logs, errors) goes to stderr, so
 * a test can read the first stdout line and keep the broker alive by
 * holding stdin open: closing it stops the broker even if the test was
 * killed before its trap ran.
 *
 * What the mock does and does not do (librdkafka 2.0.2): no SASL; no admin
 * API (it advertises no CreateTopics, DeleteTopics, DescribeConfigs or
 * AlterConfigs, so clients refuse to send them or time out waiting for a
 * controller); it advertises ApiVersions and Metadata only up to v2; and it
 * auto-creates any topic named in a Metadata request.
 *
 * Build: cc -O2 -Wall -o build/mock_broker tests/tools/mock_broker.c \
 *            $(pkg-config --cflags --libs rdkafka)
 */
/* ppoll() */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/* One broker: the end-to-end rig DNATs a single broker address to it. */
#define MOCK_BROKER_CNT 1
/* A broker count of 1 allows no other replication factor. */
#define MOCK_REPLICATION_FACTOR 1
/* Partitions of a topic given without ":PARTITIONS". */
#define DEFAULT_PARTITIONS 1
/*
 * Upper bound on ":PARTITIONS"; larger values are rejected with an error
 * rather than making the mock allocate per-partition state for them.
 */
#define MAX_PARTITIONS 1024
/* Kafka's limit on topic name length (Topic.java); longer ones are refused. */
#define MAX_TOPIC_LEN 249

static volatile sig_atomic_t stop_signal;

struct topic_arg {
	char *name;
	int partitions;
};

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"Usage: %s [--topic NAME[:PARTITIONS]]... [--no-stdin]\n"
		"\n"
		"Start librdkafka's mock Kafka cluster with %d broker on 127.0.0.1,\n"
		"create the given topics, print \"BOOTSTRAP host:port\" on stdout and\n"
		"serve until SIGTERM, SIGINT or end of file on stdin.\n"
		"Commands on stdin, one a line: \"down\" (connections closed, new ones\n"
		"refused, data kept), \"up\", and \"produce-error CODE N\" (the next N\n"
		"Produce requests fail with Kafka error CODE).\n"
		"\n"
		"  -t, --topic NAME[:PARTITIONS]  create topic NAME with PARTITIONS\n"
		"                                 partitions (default %d, max %d);\n"
		"                                 repeatable\n"
		"      --no-stdin                 ignore stdin; stop on signals only\n"
		"                                 (needed when stdin is /dev/null)\n"
		"  -h, --help                     show this help\n",
		prog, MOCK_BROKER_CNT, DEFAULT_PARTITIONS, MAX_PARTITIONS);
}

/*
 * Parses "NAME[:PARTITIONS]" into a newly allocated *name (argv is left as
 * it was, so ps shows the real command line). Topic names cannot contain
 * ':', so the last one separates the count. Returns 0, or -1 after printing
 * why the argument is invalid.
 */
static int parse_topic(const char *arg, char **name, int *partitions)
{
	const char *colon = strrchr(arg, ':');
	size_t len = colon ? (size_t)(colon - arg) : strlen(arg);

	*name = NULL;
	*partitions = DEFAULT_PARTITIONS;
	if (colon) {
		char *end;
		long n;

		errno = 0;
		n = strtol(colon + 1, &end, 10);
		if (errno || end == colon + 1 || *end || n < 1 || n > MAX_PARTITIONS) {
			fprintf(stderr, "mock_broker: --topic %s: partitions not in 1..%d\n", arg,
				MAX_PARTITIONS);
			return -1;
		}
		*partitions = (int)n;
	}
	if (len == 0 || len > MAX_TOPIC_LEN) {
		fprintf(stderr, "mock_broker: --topic %s: name length %zu not in 1..%d\n", arg,
			len, MAX_TOPIC_LEN);
		return -1;
	}
	*name = strndup(arg, len);
	if (!*name) {
		perror("mock_broker: strndup");
		return -1;
	}
	return 0;
}

static void free_topics(struct topic_arg *topics, int ntopics)
{
	int i;

	for (i = 0; i < ntopics; i++)
		free(topics[i].name);
	free(topics);
}

/* Bytes of one stdin command line kept; a longer line is ignored whole. */
#define CMD_MAX 64

/* Runs one stdin command line. */
static void run_command(rd_kafka_mock_cluster_t *mcluster, const char *line)
{
	rd_kafka_resp_err_t err;
	int down, code, n;

	if (sscanf(line, "produce-error %d %d", &code, &n) == 2 && n > 0) {
		rd_kafka_resp_err_t errs[n];

		for (int i = 0; i < n; i++)
			errs[i] = (rd_kafka_resp_err_t)code;
		/* api key 0: Produce */
		rd_kafka_mock_push_request_errors_array(mcluster, 0, n, errs);
		fprintf(stderr, "mock_broker: %s\n", line);
		return;
	}
	if (!strcmp(line, "down"))
		down = 1;
	else if (!strcmp(line, "up"))
		down = 0;
	else
		return;
	/* the mock numbers its brokers from 1 */
	err = down ? rd_kafka_mock_broker_set_down(mcluster, 1)
		   : rd_kafka_mock_broker_set_up(mcluster, 1);
	if (err)
		fprintf(stderr, "mock_broker: %s: %s\n", line, rd_kafka_err2str(err));
	else
		fprintf(stderr, "mock_broker: %s\n", line);
}

/* Returns 1 when stdin reached EOF or failed, 0 otherwise; runs complete command lines. */
static int drain_stdin(rd_kafka_mock_cluster_t *mcluster)
{
	static char line[CMD_MAX + 1];
	static size_t len;
	static int overlong;
	char buf[256];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n < 0)
		fprintf(stderr, "mock_broker: stdin: %s; stopping\n", strerror(errno));
	if (n <= 0)
		return 1;
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			line[len] = 0;
			if (!overlong)
				run_command(mcluster, line);
			len = 0;
			overlong = 0;
		} else if (len < CMD_MAX) {
			line[len++] = buf[i];
		} else {
			overlong = 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *prog = argc > 0 ? argv[0] : "mock_broker";
	rd_kafka_mock_cluster_t *mcluster = NULL;
	struct topic_arg *topics;
	int ntopics = 0;
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk = NULL;
	struct sigaction sa;
	sigset_t block, orig;
	char errstr[512];
	int watch_stdin = 1;
	int ret = 1;
	int i;

	/* At most one topic per argument; never calloc(0) when argc is 0. */
	topics = calloc(argc > 0 ? argc : 1, sizeof(*topics));
	if (!topics) {
		perror("mock_broker: calloc");
		return 1;
	}
	/* Validate everything before the mock exists, so bad usage costs nothing. */
	for (i = 1; i < argc; i++) {
		const char *arg;

		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout, prog);
			free_topics(topics, ntopics);
			return 0;
		} else if (!strcmp(argv[i], "--no-stdin")) {
			watch_stdin = 0;
			continue;
		} else if (!strcmp(argv[i], "-t") || !strcmp(argv[i], "--topic")) {
			if (++i == argc) {
				fprintf(stderr, "mock_broker: %s needs an argument\n", argv[i - 1]);
				usage(stderr, prog);
				free_topics(topics, ntopics);
				return 2;
			}
			arg = argv[i];
		} else if (!strncmp(argv[i], "--topic=", 8)) {
			arg = argv[i] + 8;
		} else {
			fprintf(stderr, "mock_broker: unknown argument \"%s\"\n", argv[i]);
			usage(stderr, prog);
			free_topics(topics, ntopics);
			return 2;
		}
		if (parse_topic(arg, &topics[ntopics].name, &topics[ntopics].partitions)) {
			free_topics(topics, ntopics);
			return 2;
		}
		ntopics++;
	}

	/*
	 * Block the stop signals now and unblock them only inside ppoll(), so a
	 * signal that arrives between the flag check and the wait is not lost.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	/* librdkafka's threads inherit this mask, so signals come to main. */
	if (sigprocmask(SIG_BLOCK, &block, &orig)) {
		perror("mock_broker: sigprocmask");
		free_topics(topics, ntopics);
		return 1;
	}

	/*
	 * The mock needs an rd_kafka_t for its bookkeeping. That handle never
	 * connects anywhere, so it gets no bootstrap.servers, and log_level 4
	 * (warning) hides the notice-level "No bootstrap.servers configured".
	 */
	conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "client.id", "kgate-mock-broker", errstr, sizeof(errstr)) ||
	    rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr))) {
		fprintf(stderr, "mock_broker: rd_kafka_conf_set: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		goto cleanup;
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		/* rd_kafka_new() takes conf only on success. */
		fprintf(stderr, "mock_broker: rd_kafka_new: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		goto cleanup;
	}

	mcluster = rd_kafka_mock_cluster_new(rk, MOCK_BROKER_CNT);
	if (!mcluster) {
		fprintf(stderr, "mock_broker: rd_kafka_mock_cluster_new(%d brokers) failed\n",
			MOCK_BROKER_CNT);
		goto cleanup;
	}

	/* Command-line order, so Metadata lists them predictably. */
	for (i = 0; i < ntopics; i++) {
		rd_kafka_resp_err_t err;

		err = rd_kafka_mock_topic_create(mcluster, topics[i].name, topics[i].partitions,
						 MOCK_REPLICATION_FACTOR);
		if (err) {
			fprintf(stderr, "mock_broker: create topic \"%s\" (%d partitions): %s\n",
				topics[i].name, topics[i].partitions, rd_kafka_err2str(err));
			goto cleanup;
		}
	}

	if (printf("BOOTSTRAP %s\n", rd_kafka_mock_cluster_bootstraps(mcluster)) < 0 ||
	    fflush(stdout)) {
		perror("mock_broker: stdout");
		goto cleanup;
	}

	while (!stop_signal) {
		struct pollfd pfd = { .fd = watch_stdin ? STDIN_FILENO : -1, .events = POLLIN };
		int n = ppoll(&pfd, 1, NULL, &orig);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("mock_broker: ppoll");
			goto cleanup;
		}
		/* POLLHUP without POLLIN: the writer closed; read() sees EOF. */
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
			if (pfd.revents & POLLNVAL) {
				fprintf(stderr, "mock_broker: stdin is not open; stopping\n");
				break;
			}
			if (drain_stdin(mcluster))
				break;
		}
	}
	ret = 0;

cleanup:
	if (mcluster)
		rd_kafka_mock_cluster_destroy(mcluster);
	if (rk)
		rd_kafka_destroy(rk);
	free_topics(topics, ntopics);
	return ret;
}
