// SPDX-License-Identifier: Apache-2.0
/*
 * kprod: the benchmark's producer. A librdkafka producer (acks=1 by default) that sends
 * values of one size to one topic for a fixed time, flat out or at a paced rate, and
 * prints one JSON line: messages and bytes delivered per second in the measured window,
 * failures by error, delivery latency percentiles, the longest time without a delivery,
 * and (--timeline) deliveries per bucket. Used by bench/run.sh (make bench-e2e, ...).
 *
 *   kprod --bootstrap H:P --topic T [--size BYTES] [--seconds S] [--warmup S] [--rate N]
 *         [--acks N] [--linger-ms MS] [--client-id ID] [--timeline-ms MS] [--label L]
 *
 * The window: deliveries confirmed between --warmup seconds after the first message and
 * the end of --seconds count (connection setup and metadata are not measured). After the
 * window nothing new is produced; what is in flight gets KPROD_DRAIN_S to finish, and
 * whatever fails (message.timeout.ms) is counted as failed.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "bench/tool.h"

/* Seconds the producer waits after the window for messages in flight; the rest fail. */
#define KPROD_DRAIN_S 12
/* A message not delivered within this long fails (librdkafka message.timeout.ms). */
#define KPROD_MSG_TIMEOUT_MS 10000
/* Latency samples kept (one per delivered message in the window); past it, sampled. */
#define KPROD_LAT_MAX (1 << 22)
/* Timeline buckets kept; a longer run stops recording its timeline past the last one. */
#define KPROD_TL_MAX 4096
/* Largest value: 1 MiB (the default message.max.bytes of a broker). */
#define KPROD_SIZE_MAX (1 << 20)
/* Distinct error codes counted; others are summed under "other". */
#define KPROD_ERR_SLOTS 16

struct kprod {
	double t0, win_start, win_end;
	unsigned long long sent, ok, ok_win, bytes_win, failed;
	double last_ok, max_gap, first_ok;
	double *lat;
	unsigned long long nlat, lat_seen;
	unsigned long long *tl_ok, *tl_fail;
	double tl_s;
	int ntl;
	struct {
		int code;
		unsigned long long n;
	} errs[KPROD_ERR_SLOTS];
	int nerrs;
	unsigned long long errs_other;
	size_t size;
};


static void count_err(struct kprod *k, int code)
{
	for (int i = 0; i < k->nerrs; i++)
		if (k->errs[i].code == code) {
			k->errs[i].n++;
			return;
		}
	if (k->nerrs < KPROD_ERR_SLOTS) {
		k->errs[k->nerrs].code = code;
		k->errs[k->nerrs++].n = 1;
	} else {
		k->errs_other++;
	}
}

static void tl_add(struct kprod *k, double t, int ok)
{
	int b;

	if (!k->ntl || t < k->t0)
		return;
	b = (int)((t - k->t0) / k->tl_s);
	if (b >= k->ntl)
		return;
	if (ok)
		k->tl_ok[b]++;
	else
		k->tl_fail[b]++;
}

/* The enqueue time travels as the message's opaque (a double's bits). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kprod *k = opaque;
	double t = now_s(), sent_at;

	(void)rk;
	memcpy(&sent_at, &m->_private, sizeof(sent_at));
	if (m->err) {
		k->failed++;
		count_err(k, m->err);
		tl_add(k, t, 0);
		return;
	}
	k->ok++;
	tl_add(k, t, 1);
	if (!k->first_ok)
		k->first_ok = t;
	/* stalls are measured from the first delivery on (setup is not a stall) */
	if (k->last_ok && t - k->last_ok > k->max_gap && t <= k->win_end)
		k->max_gap = t - k->last_ok;
	k->last_ok = t;
	if (t < k->win_start || t > k->win_end)
		return;
	k->ok_win++;
	k->bytes_win += m->len;
	/* reservoir sampling keeps the percentiles honest past KPROD_LAT_MAX messages */
	k->lat_seen++;
	if (k->nlat < KPROD_LAT_MAX) {
		k->lat[k->nlat++] = t - sent_at;
	} else {
		unsigned long long j = (unsigned long long)rand() % k->lat_seen;

		if (j < KPROD_LAT_MAX)
			k->lat[j] = t - sent_at;
	}
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(const double *v, unsigned long long n, double p)
{
	if (!n)
		return -1;
	return v[(unsigned long long)(p * (n - 1) + 0.5)];
}

static void conf(rd_kafka_conf_t *c, const char *k, const char *v)
{
	char err[256];

	if (rd_kafka_conf_set(c, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "kprod: %s=%s: %s\n", k, v, err);
		exit(2);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: kprod --bootstrap H:P --topic T [--size BYTES] [--seconds S] "
			"[--warmup S] [--rate N] [--acks N] [--linger-ms MS] [--client-id ID] "
			"[--timeline-ms MS] [--label L]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"bootstrap", required_argument, NULL, 'b'},
		{"topic", required_argument, NULL, 't'},
		{"size", required_argument, NULL, 's'},
		{"seconds", required_argument, NULL, 'd'},
		{"warmup", required_argument, NULL, 'w'},
		{"rate", required_argument, NULL, 'r'},
		{"acks", required_argument, NULL, 'a'},
		{"linger-ms", required_argument, NULL, 'l'},
		{"client-id", required_argument, NULL, 'c'},
		{"timeline-ms", required_argument, NULL, 'T'},
		{"label", required_argument, NULL, 'L'},
		{NULL, 0, NULL, 0},
	};
	const char *bootstrap = NULL, *topic = NULL, *acks = "1", *linger = "5";
	const char *client_id = "kgate-bench", *label = "";
	double seconds = 10, warmup = 1, rate = 0, tl_ms = 0, t, next, drain_end;
	static struct kprod k;
	char err[512], *val;
	rd_kafka_conf_t *c;
	rd_kafka_topic_t *rkt;
	rd_kafka_t *rk;
	int o;

	k.size = 100;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'b':
			bootstrap = optarg;
			break;
		case 't':
			topic = optarg;
			break;
		case 's':
			k.size = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			seconds = atof(optarg);
			break;
		case 'w':
			warmup = atof(optarg);
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 'a':
			acks = optarg;
			break;
		case 'l':
			linger = optarg;
			break;
		case 'c':
			client_id = optarg;
			break;
		case 'T':
			tl_ms = atof(optarg);
			break;
		case 'L':
			label = optarg;
			break;
		default:
			usage();
		}
	}
	if (!bootstrap || !topic || !k.size || k.size > KPROD_SIZE_MAX || seconds <= warmup ||
	    rate < 0)
		usage();
	tool_signals();
	k.lat = malloc(sizeof(double) * KPROD_LAT_MAX);
	val = malloc(k.size);
	if (!k.lat || !val)
		return 1;
	for (size_t i = 0; i < k.size; i++)
		val[i] = 'a' + i % 26;
	if (tl_ms > 0) {
		k.tl_s = tl_ms / 1000;
		k.ntl = (int)((seconds + KPROD_DRAIN_S) / k.tl_s) + 1;
		if (k.ntl > KPROD_TL_MAX)
			k.ntl = KPROD_TL_MAX;
		k.tl_ok = calloc(k.ntl, sizeof(*k.tl_ok));
		k.tl_fail = calloc(k.ntl, sizeof(*k.tl_fail));
		if (!k.tl_ok || !k.tl_fail)
			return 1;
	}

	c = rd_kafka_conf_new();
	conf(c, "bootstrap.servers", bootstrap);
	conf(c, "client.id", client_id);
	conf(c, "acks", acks);
	conf(c, "linger.ms", linger);
	conf(c, "enable.idempotence", "false");
	conf(c, "compression.type", "none");
	snprintf(err, sizeof(err), "%d", KPROD_MSG_TIMEOUT_MS);
	conf(c, "message.timeout.ms", err);
	/* the bench's paced latency runs wait for deliveries, not for a full batch */
	conf(c, "socket.nagle.disable", "true");
	rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
	rd_kafka_conf_set_opaque(c, &k);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "kprod: %s\n", err);
		return 1;
	}
	rkt = rd_kafka_topic_new(rk, topic, NULL);

	k.t0 = now_s();
	k.win_start = k.t0 + warmup;
	k.win_end = k.t0 + seconds;
	next = k.t0;
	while (!stop && (t = now_s()) < k.win_end) {
		void *opaque;

		if (rate > 0 && t < next) {
			int ms = (int)((next - t) * 1000);

			rd_kafka_poll(rk, ms > 0 ? ms : 0);
			continue;
		}
		memcpy(&opaque, &t, sizeof(opaque));
		if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, 0, val, k.size, NULL, 0, opaque)) {
			/* the local queue is full: serve delivery reports, then try again */
			if (rd_kafka_last_error() == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
				rd_kafka_poll(rk, 1);
				continue;
			}
			fprintf(stderr, "kprod: produce: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
			break;
		}
		k.sent++;
		if (rate > 0)
			next += 1 / rate;
		if (!(k.sent & 255) || rate > 0)
			rd_kafka_poll(rk, 0);
	}
	drain_end = now_s() + KPROD_DRAIN_S;
	while (rd_kafka_outq_len(rk) > 0 && now_s() < drain_end && !stop)
		rd_kafka_poll(rk, 50);
	rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_poll(rk, 0);

	qsort(k.lat, k.nlat, sizeof(double), cmp_d);
	{
		double win = seconds - warmup;

		printf("{\"label\":\"%s\",\"size\":%zu,\"seconds\":%.3f,\"warmup\":%.3f,"
		       "\"rate_target\":%.1f,\"acks\":\"%s\",\"sent\":%llu,\"delivered\":%llu,"
		       "\"failed\":%llu,\"msgs_per_s\":%.1f,\"mb_per_s\":%.3f,"
		       "\"lat_p50_us\":%.1f,\"lat_p99_us\":%.1f,\"lat_max_us\":%.1f,"
		       "\"max_gap_s\":%.3f,\"first_delivery_s\":%.3f,\"errors\":{",
		       label, k.size, seconds, warmup, rate, acks, k.sent, k.ok, k.failed,
		       k.ok_win / win, k.bytes_win / win / 1e6, pct(k.lat, k.nlat, 0.5) * 1e6,
		       pct(k.lat, k.nlat, 0.99) * 1e6, k.nlat ? k.lat[k.nlat - 1] * 1e6 : -1,
		       k.max_gap, k.first_ok ? k.first_ok - k.t0 : -1);
		for (int i = 0; i < k.nerrs; i++)
			printf("%s\"%s\":%llu", i ? "," : "", rd_kafka_err2name(k.errs[i].code),
			       k.errs[i].n);
		if (k.errs_other)
			printf("%s\"other\":%llu", k.nerrs ? "," : "", k.errs_other);
		printf("}");
		if (k.ntl) {
			printf(",\"timeline_s\":%.3f,\"timeline_ok\":[", k.tl_s);
			for (int i = 0; i < k.ntl; i++)
				printf("%s%llu", i ? "," : "", k.tl_ok[i]);
			printf("],\"timeline_failed\":[");
			for (int i = 0; i < k.ntl; i++)
				printf("%s%llu", i ? "," : "", k.tl_fail[i]);
			printf("]");
		}
		printf("}\n");
	}
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	free(val);
	free(k.lat);
	return 0;
}
