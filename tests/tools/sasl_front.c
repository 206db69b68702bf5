// SPDX-License-Identifier: Apache-2.0
/*
 * sasl_front: TEST SCAFFOLDING ONLY (docs/DESIGN.md §8). Not part of kgate, never deployed.
 *
 * librdkafka's mock cluster speaks no SASL, so a client configured with
 * security.protocol=SASL_PLAINTEXT cannot talk to it. This front stands where the broker
 * listens, plays the broker's part of the SASL exchange, and then splices the connection,
 * byte for byte, to the mock:
 *
 *   - ApiVersions (v0-v3): answered here with the mock's own list (fetched once at start)
 *     plus SaslHandshake v0-v1 and SaslAuthenticate v0-v1;
 *   - SaslHandshake v0 (then raw, size-prefixed tokens, as kafka-python sends them) and
 *     v1 (then SaslAuthenticate v0-v1 requests, as librdkafka sends them);
 *   - PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802/7677; the client proof is
 *     verified and the server signature computed with OpenSSL), against a user table;
 *   - on success, everything after goes to the mock unchanged; on a wrong password the
 *     client gets SASL_AUTHENTICATION_FAILED (v1) or a closed connection (v0), as from
 *     a real broker, and nothing reaches the mock.
 *
 *   sasl_front --listen HOST:PORT --backend HOST:PORT --users FILE [--allow-plaintext]
 *              [--admin]
 *
 * FILE has one "user:password" per line ('#' starts a comment). With --allow-plaintext
 * a connection whose first request (after ApiVersions) is not SaslHandshake is spliced
 * to the mock unauthenticated. With --admin it also answers CreateTopics (v0-v4) and
 * DeleteTopics (v0-v3), which the mock lacks, when they come before anything is spliced
 * (a connection that only does admin): every topic gets NONE, echoed under the name the
 * front received, and a created topic is made to exist in the mock (a Metadata request
 * for it; the mock auto-creates); the mock cannot delete. This is what lets an end-to-end
 * test see kgate turn a denied admin request into an authorization error. Prints "LISTENING HOST:PORT" on stdout once ready; one
 * line per authentication on stderr ("auth peer=... mech=... user=... result=ok|fail").
 * One process per connection (fork): simple, and a test never has many.
 *
 * Build: cc -O2 -Wall -o build/tests/sasl_front tests/tools/sasl_front.c -lcrypto
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/wire.h"

/* Kafka api keys, error codes and the versions this front answers. */
#define API_SASL_HANDSHAKE 17
#define API_API_VERSIONS 18
#define API_SASL_AUTHENTICATE 36
#define API_METADATA 3
#define API_CREATE_TOPICS 19
#define API_DELETE_TOPICS 20
/* Non-flexible versions only: v5 (CreateTopics) and v4 (DeleteTopics) are flexible. */
#define CREATE_TOPICS_MAX 4
#define DELETE_TOPICS_MAX 3
#define ERR_NONE 0
#define ERR_UNSUPPORTED_SASL_MECHANISM 33
#define ERR_ILLEGAL_SASL_STATE 34
#define ERR_UNSUPPORTED_VERSION 35
#define ERR_SASL_AUTHENTICATION_FAILED 58
#define SASL_HANDSHAKE_MAX 1
#define SASL_AUTHENTICATE_MAX 1
/* ApiVersions v3 is the first flexible version (compact array, tagged fields). */
#define API_VERSIONS_FLEX 3
#define API_VERSIONS_MAX 3

/* Largest request read before authentication; a SASL exchange is a few hundred bytes. */
#define MAX_PREAUTH_FRAME (1 << 20)
/* Api keys in the mock's ApiVersions answer (librdkafka 2.0.2 lists ~30). */
#define MAX_APIS 128
#define MAX_USERS 64
#define MAX_FIELD 256
/* RFC 7677 recommends at least 4096 iterations; Kafka refuses fewer for SHA-256. */
#define SCRAM_ITERATIONS 4096
#define SCRAM_SALT_LEN 16
#define SCRAM_NONCE_LEN 18
/* Seconds a client may stay silent before authentication completes. */
#define IO_TIMEOUT_S 30

struct api_range {
	int16_t key, min, max;
};

struct user {
	char name[MAX_FIELD], pass[MAX_FIELD];
};

static struct api_range apis[MAX_APIS];
static int napis;
static struct user users[MAX_USERS];
static int nusers;
static const char *backend;
static int allow_plaintext;
static int admin;
static char peer_name[INET6_ADDRSTRLEN + 8];

/* ---- bytes --------------------------------------------------------------- */

/* A response (or its body) is at most this many bytes; a longer one stops the front
 * (tests/lib/wire.h). */
#define RESP_MAX 4096

/* All n bytes at p read from fd, or (out) written to it, through EINTR: 0, or -1 at the end
 * of the stream or on an error. */
static int all_bytes(int fd, void *p, size_t n, int out)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = out ? write(fd, (uint8_t *)p + done, n - done)
				: read(fd, (uint8_t *)p + done, n - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

static int read_full(int fd, void *p, size_t n)
{
	return all_bytes(fd, p, n, 0);
}

/* p is only read from (all_bytes writes it out) */
static int write_full(int fd, const void *p, size_t n)
{
	return all_bytes(fd, (void *)p, n, 1);
}

/* One size-prefixed frame into a malloc'd buffer (the size not included). */
static uint8_t *read_frame(int fd, int32_t *len)
{
	uint32_t be;
	uint8_t *p;

	if (read_full(fd, &be, 4))
		return NULL;
	*len = (int32_t)ntohl(be);
	if (*len < 0 || *len > MAX_PREAUTH_FRAME)
		return NULL;
	p = malloc((size_t)*len + 1);
	if (!p || read_full(fd, p, (size_t)*len)) {
		free(p);
		return NULL;
	}
	return p;
}

/* A response: size, correlation id (header v0: no tagged fields here), body. */
static int send_response(int fd, int32_t corr, const struct wire_buf *body)
{
	uint8_t out_d[RESP_MAX];
	struct wire_buf out = WIRE_BUF(out_d);

	wire_put32(&out, (int32_t)(4 + body->n));
	wire_put32(&out, corr);
	wire_put(&out, body->p, body->n);
	return write_full(fd, out.p, out.n);
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- requests ------------------------------------------------------------ */

struct req {
	int16_t key, ver;
	int32_t corr;
	const uint8_t *body; /* after the header */
	size_t body_len;
};

/* Request header v1 (api key, version, correlation id, nullable client id); header v2
 * (flexible requests) adds tagged fields, which only ApiVersions v3 uses here and whose
 * body this front does not read. */
static int parse_req(const uint8_t *p, int32_t len, struct req *r)
{
	int16_t cid_len;
	size_t off = 10;

	if (len < 10)
		return -1;
	r->key = (int16_t)rd16(p);
	r->ver = (int16_t)rd16(p + 2);
	r->corr = (int32_t)rd32(p + 4);
	cid_len = (int16_t)rd16(p + 8);
	if (cid_len > 0)
		off += (size_t)cid_len;
	if (off > (size_t)len)
		return -1;
	r->body = p + off;
	r->body_len = (size_t)len - off;
	return 0;
}

static void answer_api_versions(int fd, const struct req *r)
{
	uint8_t b_d[RESP_MAX];
	struct wire_buf b = WIRE_BUF(b_d);
	int16_t max = API_VERSIONS_MAX;
	int ver = r->ver, i;

	for (i = 0; i < napis; i++)
		if (apis[i].key == API_API_VERSIONS && apis[i].max < max)
			max = apis[i].max;
	/* A version we do not speak: error in the v0 layout, as Kafka brokers answer. */
	if (ver > max) {
		wire_put16(&b, ERR_UNSUPPORTED_VERSION);
		ver = 0;
	} else {
		wire_put16(&b, ERR_NONE);
	}
	if (ver >= API_VERSIONS_FLEX)
		wire_uvarint(&b, (uint32_t)napis + 1);
	else
		wire_put32(&b, napis);
	for (i = 0; i < napis; i++) {
		wire_put16(&b, apis[i].key);
		wire_put16(&b, apis[i].min);
		wire_put16(&b, apis[i].key == API_API_VERSIONS ? max : apis[i].max);
		if (ver >= API_VERSIONS_FLEX)
			wire_uvarint(&b, 0);
	}
	if (ver >= 1)
		wire_put32(&b, 0); /* throttle_time_ms */
	if (ver >= API_VERSIONS_FLEX)
		wire_uvarint(&b, 0);
	send_response(fd, r->corr, &b);
}

/* ---- users and SCRAM ----------------------------------------------------- */

static const struct user *find_user(const char *name)
{
	int i;

	for (i = 0; i < nusers; i++)
		if (!strcmp(users[i].name, name))
			return &users[i];
	return NULL;
}

static int b64enc(const uint8_t *in, size_t n, char *out, size_t outlen)
{
	if (outlen < 4 * ((n + 2) / 3) + 1)
		return -1;
	return EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* Decoded length (padding removed), or -1. */
static int b64dec(const char *in, uint8_t *out, size_t outlen)
{
	size_t n = strlen(in);
	int len, pad = 0;

	if (n % 4 || 3 * (n / 4) > outlen)
		return -1;
	len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (len < 0)
		return -1;
	if (n && in[n - 1] == '=')
		pad++;
	if (n > 1 && in[n - 2] == '=')
		pad++;
	return len - pad;
}

/* The value of "k=" among comma-separated attributes, copied (unescaped for n=). */
static int scram_attr(const char *msg, char k, char *out, size_t outlen)
{
	const char *p = msg;

	while (p && *p) {
		if (p[0] == k && p[1] == '=') {
			const char *e = strchr(p + 2, ',');
			size_t i = 0;

			p += 2;
			while (p < (e ? e : p + strlen(p))) {
				char c = *p++;

				if (c == '=' && !strncmp(p, "2C", 2)) {
					c = ',';
					p += 2;
				} else if (c == '=' && !strncmp(p, "3D", 2)) {
					c = '=';
					p += 2;
				}
				if (i + 1 >= outlen)
					return -1;
				out[i++] = c;
			}
			out[i] = 0;
			return 0;
		}
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return -1;
}

struct scram {
	const EVP_MD *md;
	const struct user *u;
	char gs2[MAX_FIELD];        /* "n,," */
	char client_first_bare[MAX_FIELD * 2];
	char server_first[MAX_FIELD * 3];
	char nonce[MAX_FIELD * 2];
	uint8_t salt[SCRAM_SALT_LEN];
};

/* client-first -> server-first (into out); -1 when malformed or the user is unknown. */
static int scram_first(struct scram *s, const char *msg, char *user, size_t ulen, char *out,
		       size_t outlen)
{
	const char *bare;
	char cnonce[MAX_FIELD], salt64[64], rnd64[64];
	uint8_t rnd[SCRAM_NONCE_LEN];

	/* gs2 header: "n,," or "n,a=authzid," (no channel binding over plaintext) */
	if (strncmp(msg, "n,", 2) && strncmp(msg, "y,", 2))
		return -1;
	bare = strchr(msg + 2, ',');
	if (!bare || (size_t)(bare + 1 - msg) >= sizeof(s->gs2))
		return -1;
	bare++;
	memcpy(s->gs2, msg, (size_t)(bare - msg));
	s->gs2[bare - msg] = 0;
	if (strlen(bare) >= sizeof(s->client_first_bare))
		return -1;
	strcpy(s->client_first_bare, bare);
	if (scram_attr(bare, 'n', user, ulen) || scram_attr(bare, 'r', cnonce, sizeof(cnonce)))
		return -1;
	s->u = find_user(user);
	if (!s->u)
		return -1;
	if (RAND_bytes(s->salt, sizeof(s->salt)) != 1 || RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	b64enc(s->salt, sizeof(s->salt), salt64, sizeof(salt64));
	b64enc(rnd, sizeof(rnd), rnd64, sizeof(rnd64));
	snprintf(s->nonce, sizeof(s->nonce), "%s%s", cnonce, rnd64);
	snprintf(s->server_first, sizeof(s->server_first), "r=%s,s=%s,i=%d", s->nonce, salt64,
		 SCRAM_ITERATIONS);
	snprintf(out, outlen, "%s", s->server_first);
	return 0;
}

/* client-final -> server-final when the proof is right; -1 otherwise. */
static int scram_final(struct scram *s, const char *msg, char *out, size_t outlen)
{
	unsigned char salted[EVP_MAX_MD_SIZE], ckey[EVP_MAX_MD_SIZE], skey[EVP_MAX_MD_SIZE];
	unsigned char stored[EVP_MAX_MD_SIZE], csig[EVP_MAX_MD_SIZE], ssig[EVP_MAX_MD_SIZE];
	unsigned char check[EVP_MAX_MD_SIZE];
	uint8_t proof[EVP_MAX_MD_SIZE * 2];
	char cbind[MAX_FIELD], nonce[MAX_FIELD * 2], proof64[MAX_FIELD], gs2_64[MAX_FIELD];
	char auth[MAX_FIELD * 8], ssig64[EVP_MAX_MD_SIZE * 2];
	const char *p_attr;
	unsigned int hl = (unsigned int)EVP_MD_size(s->md), l;
	size_t nl, sl;
	int plen, i;

	if (scram_attr(msg, 'c', cbind, sizeof(cbind)) ||
	    scram_attr(msg, 'r', nonce, sizeof(nonce)) ||
	    scram_attr(msg, 'p', proof64, sizeof(proof64)))
		return -1;
	b64enc((const uint8_t *)s->gs2, strlen(s->gs2), gs2_64, sizeof(gs2_64));
	/*
	 * The nonce must end with the server's (Kafka's ScramSaslServer checks endsWith, not
	 * equality): librdkafka 2.0.2 sends the client nonce once more in front of it.
	 */
	nl = strlen(nonce);
	sl = strlen(s->nonce);
	if (strcmp(cbind, gs2_64) || nl < sl || strcmp(nonce + nl - sl, s->nonce))
		return -1;
	p_attr = strstr(msg, ",p=");
	if (!p_attr)
		return -1;
	plen = b64dec(proof64, proof, sizeof(proof));
	if (plen != (int)hl)
		return -1;
	snprintf(auth, sizeof(auth), "%s,%s,%.*s", s->client_first_bare, s->server_first,
		 (int)(p_attr - msg), msg);

	if (!PKCS5_PBKDF2_HMAC(s->u->pass, (int)strlen(s->u->pass), s->salt, sizeof(s->salt),
			       SCRAM_ITERATIONS, s->md, (int)hl, salted))
		return -1;
	HMAC(s->md, salted, (int)hl, (const unsigned char *)"Client Key", 10, ckey, &l);
	HMAC(s->md, salted, (int)hl, (const unsigned char *)"Server Key", 10, skey, &l);
	EVP_Digest(ckey, hl, stored, &l, s->md, NULL);
	HMAC(s->md, stored, (int)hl, (const unsigned char *)auth, strlen(auth), csig, &l);
	/* ClientKey = ClientProof XOR ClientSignature; it must hash to StoredKey. */
	for (i = 0; i < (int)hl; i++)
		check[i] = proof[i] ^ csig[i];
	EVP_Digest(check, hl, check, &l, s->md, NULL);
	if (CRYPTO_memcmp(check, stored, hl))
		return -1;
	HMAC(s->md, skey, (int)hl, (const unsigned char *)auth, strlen(auth), ssig, &l);
	b64enc(ssig, hl, ssig64, sizeof(ssig64));
	snprintf(out, outlen, "v=%s", ssig64);
	return 0;
}

/* ---- one connection ------------------------------------------------------ */

enum mech { MECH_NONE, MECH_PLAIN, MECH_SCRAM256, MECH_SCRAM512 };

struct session {
	enum mech mech;
	int step;       /* tokens seen */
	struct scram scram;
	char user[MAX_FIELD];
};

/*
 * One SASL token in, one out. Returns 1 when authentication completed, 0 when another
 * token is expected, -1 on failure (wrong password, unknown user, malformed token).
 */
static int sasl_step(struct session *s, const uint8_t *tok, size_t len, char *out, size_t outlen)
{
	char msg[MAX_FIELD * 4];

	out[0] = 0;
	if (len >= sizeof(msg))
		return -1;
	memcpy(msg, tok, len);
	msg[len] = 0;
	if (s->mech == MECH_PLAIN) {
		/* authzid \0 authcid \0 password */
		const char *authcid = memchr(tok, 0, len), *pass;

		if (!authcid)
			return -1;
		authcid++;
		pass = memchr(authcid, 0, len - (size_t)(authcid - (const char *)tok));
		if (!pass)
			return -1;
		pass++;
		snprintf(s->user, sizeof(s->user), "%.*s", (int)(pass - 1 - authcid), authcid);
		const struct user *u = find_user(s->user);
		size_t plen = len - (size_t)(pass - (const char *)tok);

		if (!u || plen != strlen(u->pass) || memcmp(pass, u->pass, plen))
			return -1;
		return 1;
	}
	if (s->step++ == 0)
		return scram_first(&s->scram, msg, s->user, sizeof(s->user), out, outlen) ? -1 : 0;
	return scram_final(&s->scram, msg, out, outlen) ? -1 : 1;
}

static int connect_to(const char *hostport)
{
	char host[256], *colon;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *a;
	int fd = -1;

	snprintf(host, sizeof(host), "%s", hostport);
	colon = strrchr(host, ':');
	if (!colon)
		return -1;
	*colon = 0;
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = 0;
	}
	if (getaddrinfo(host, colon + 1, &hints, &ai))
		return -1;
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, SOCK_STREAM, 0);
		if (fd >= 0 && !connect(fd, a->ai_addr, a->ai_addrlen))
			break;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/* Both directions until both are closed; first sends `pending` to the backend. */
static void splice_to_backend(int cfd, const uint8_t *pending, size_t plen)
{
	struct timeval none = { 0 };
	int bfd = connect_to(backend), open_c = 1, open_b = 1, one = 1;
	uint8_t buf[65536];

	if (bfd < 0) {
		fprintf(stderr, "sasl_front: backend %s: %s\n", backend, strerror(errno));
		return;
	}
	setsockopt(bfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
	if (plen && write_full(bfd, pending, plen))
		goto out;
	while (open_c || open_b) {
		struct pollfd p[2] = { { .fd = open_c ? cfd : -1, .events = POLLIN },
				       { .fd = open_b ? bfd : -1, .events = POLLIN } };

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			int from = i ? bfd : cfd, to = i ? cfd : bfd;
			ssize_t n;

			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(from, buf, sizeof(buf));
			if (n > 0 && !write_full(to, buf, (size_t)n))
				continue;
			/* EOF or error: pass the half-close on */
			shutdown(to, SHUT_WR);
			if (i)
				open_b = 0;
			else
				open_c = 0;
		}
	}
out:
	close(bfd);
}

static void log_auth(const char *mech, const char *user, int hs_ver, int ok)
{
	fprintf(stderr, "auth peer=%s handshake=v%d mech=%s user=%s result=%s\n", peer_name, hs_ver,
		mech, user, ok ? "ok" : "fail");
}

static const char *mech_names[] = { "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512" };

static int answer_admin(int fd, const struct req *q);

static void serve(int fd)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	struct session s = { .mech = MECH_NONE };
	int hs_ver = -1, one = 1;
	char out[MAX_FIELD * 4];

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (;;) {
		int32_t len;
		uint8_t *f = read_frame(fd, &len);
		struct req r;
		uint8_t b_d[RESP_MAX];
		struct wire_buf b = WIRE_BUF(b_d);
		int rc;

		if (!f)
			return;
		/* After a v0 handshake the client sends raw tokens, not Kafka requests. */
		if (hs_ver == 0) {
			uint8_t raw_d[RESP_MAX];
			struct wire_buf raw = WIRE_BUF(raw_d);

			rc = sasl_step(&s, f, (size_t)len, out, sizeof(out));
			free(f);
			if (rc < 0) {
				log_auth(mech_names[s.mech], s.user, 0, 0);
				return; /* a broker closes the connection */
			}
			wire_bytes(&raw, out, strlen(out));
			if (write_full(fd, raw.p, raw.n))
				return;
			if (rc == 1) {
				log_auth(mech_names[s.mech], s.user, 0, 1);
				splice_to_backend(fd, NULL, 0);
				return;
			}
			continue;
		}
		if (parse_req(f, len, &r)) {
			free(f);
			return;
		}
		if (r.key == API_API_VERSIONS) {
			answer_api_versions(fd, &r);
		} else if (r.key == API_SASL_HANDSHAKE && s.mech == MECH_NONE) {
			char mech[MAX_FIELD] = "";
			int16_t ml = r.body_len >= 2 ? (int16_t)rd16(r.body) : -1;

			if (ml >= 0 && (size_t)ml + 2 <= r.body_len && ml < MAX_FIELD)
				memcpy(mech, r.body + 2, (size_t)ml);
			for (int m = MECH_PLAIN; m <= MECH_SCRAM512; m++)
				if (!strcmp(mech, mech_names[m]))
					s.mech = (enum mech)m;
			s.scram.md = s.mech == MECH_SCRAM512 ? EVP_sha512() : EVP_sha256();
			wire_put16(&b, r.ver > SASL_HANDSHAKE_MAX ? ERR_UNSUPPORTED_VERSION :
				  s.mech == MECH_NONE	    ? ERR_UNSUPPORTED_SASL_MECHANISM :
							      ERR_NONE);
			wire_put32(&b, 3);
			for (int m = MECH_PLAIN; m <= MECH_SCRAM512; m++)
				wire_str(&b, mech_names[m]);
			send_response(fd, r.corr, &b);
			if (s.mech == MECH_NONE || r.ver > SASL_HANDSHAKE_MAX) {
				free(f);
				return;
			}
			hs_ver = r.ver;
		} else if (r.key == API_SASL_AUTHENTICATE && hs_ver == 1) {
			int32_t tl = r.body_len >= 4 ? (int32_t)rd32(r.body) : -1;

			if (tl < 0 || (size_t)tl + 4 > r.body_len || r.ver > SASL_AUTHENTICATE_MAX) {
				free(f);
				return;
			}
			rc = sasl_step(&s, r.body + 4, (size_t)tl, out, sizeof(out));
			wire_put16(&b, rc < 0 ? ERR_SASL_AUTHENTICATION_FAILED : ERR_NONE);
			if (rc < 0)
				wire_str(&b, "Authentication failed: invalid username or password");
			else
				wire_put16(&b, -1); /* null error_message */
			wire_bytes(&b, out, rc < 0 ? 0 : strlen(out));
			if (r.ver >= 1) {
				int64_t zero = 0; /* session_lifetime_ms: no re-authentication */
				wire_put(&b, &zero, 8);
			}
			send_response(fd, r.corr, &b);
			if (rc != 0)
				log_auth(mech_names[s.mech], s.user, 1, rc == 1);
			if (rc < 0) {
				free(f);
				return;
			}
			if (rc == 1) {
				free(f);
				splice_to_backend(fd, NULL, 0);
				return;
			}
		} else if (admin && s.mech == MECH_NONE &&
			   ((r.key == API_CREATE_TOPICS && r.ver <= CREATE_TOPICS_MAX) ||
			    (r.key == API_DELETE_TOPICS && r.ver <= DELETE_TOPICS_MAX))) {
			if (answer_admin(fd, &r)) {
				free(f);
				return;
			}
		} else if (allow_plaintext && s.mech == MECH_NONE) {
			uint8_t *whole = malloc((size_t)len + 4);
			uint32_t be = htonl((uint32_t)len);

			if (whole) {
				memcpy(whole, &be, 4);
				memcpy(whole + 4, f, (size_t)len);
				splice_to_backend(fd, whole, (size_t)len + 4);
			}
			free(whole);
			free(f);
			return;
		} else {
			/* Anything else before authentication: a SASL listener closes. */
			fprintf(stderr, "sasl_front: peer=%s api_key %d before authentication\n",
				peer_name, r.key);
			free(f);
			return;
		}
		free(f);
	}
}

/* ---- admin (--admin) ----------------------------------------------------- */

/* Metadata v1 naming one topic: the mock auto-creates it. */
static void mock_create(const char *name, size_t len)
{
	uint8_t b_d[RESP_MAX];
	struct wire_buf b = WIRE_BUF(b_d);
	int fd = connect_to(backend);
	int32_t rl;
	uint8_t *f;

	if (fd < 0)
		return;
	wire_put32(&b, (int32_t)(10 + 6 + 4 + 2 + len));
	wire_put16(&b, API_METADATA);
	wire_put16(&b, 1);
	wire_put32(&b, 1);
	wire_str(&b, "sfront");
	wire_put32(&b, 1);
	wire_put16(&b, (int16_t)len);
	wire_put(&b, name, len);
	if (!write_full(fd, b.p, b.n) && (f = read_frame(fd, &rl)))
		free(f);
	close(fd);
}

/* A bounded reader over a request body; any overrun sets bad. */
struct rd {
	const uint8_t *p;
	size_t n, off;
	int bad;
};

static const uint8_t *rd_take(struct rd *r, size_t n)
{
	const uint8_t *p = r->p + r->off;

	if (r->bad || n > r->n - r->off) {
		r->bad = 1;
		return NULL;
	}
	r->off += n;
	return p;
}

static int32_t rd_i32(struct rd *r)
{
	const uint8_t *p = rd_take(r, 4);
	return p ? (int32_t)rd32(p) : 0;
}

static int16_t rd_i16(struct rd *r)
{
	const uint8_t *p = rd_take(r, 2);
	return p ? (int16_t)rd16(p) : 0;
}

/* A (nullable) string: its bytes and length (-1 null). */
static const uint8_t *rd_s(struct rd *r, int16_t *len)
{
	*len = rd_i16(r);
	return *len > 0 ? rd_take(r, (size_t)*len) : NULL;
}

/* CreateTopics v0-v4 / DeleteTopics v0-v3: NONE for every topic. 0, or -1 when
 * malformed (the connection is closed, as a broker would). */
static int answer_admin(int fd, const struct req *q)
{
	struct rd r = { .p = q->body, .n = q->body_len };
	uint8_t b_d[RESP_MAX];
	struct wire_buf b = WIRE_BUF(b_d);
	int32_t n = rd_i32(&r), i, j, k;

	if (n < 0 || n > 1000)
		return -1;
	/* v2+ (create) / v1+ (delete): throttle_time_ms comes first */
	if ((q->key == API_CREATE_TOPICS && q->ver >= 2) ||
	    (q->key == API_DELETE_TOPICS && q->ver >= 1))
		wire_put32(&b, 0);
	wire_put32(&b, n);
	for (i = 0; i < n; i++) {
		int16_t len;
		const uint8_t *name = rd_s(&r, &len);

		if (r.bad || len < 0)
			return -1;
		if (q->key == API_CREATE_TOPICS) {
			int16_t l2;
			int32_t na, nc;

			rd_i32(&r); /* num_partitions */
			rd_i16(&r); /* replication_factor */
			na = rd_i32(&r);
			for (j = 0; j < na && !r.bad; j++) {
				int32_t nb;

				rd_i32(&r);
				nb = rd_i32(&r);
				for (k = 0; k < nb && !r.bad; k++)
					rd_i32(&r);
			}
			nc = rd_i32(&r);
			for (j = 0; j < nc && !r.bad; j++) {
				rd_s(&r, &l2);
				rd_s(&r, &l2);
			}
			if (!r.bad)
				mock_create((const char *)name, (size_t)len);
		}
		if (r.bad)
			return -1;
		wire_put16(&b, len);
		if (len > 0)
			wire_put(&b, name, (size_t)len);
		wire_put16(&b, ERR_NONE);
		if (q->key == API_CREATE_TOPICS && q->ver >= 1)
			wire_put16(&b, -1); /* error_message: null */
	}
	fprintf(stderr, "admin peer=%s api_key=%d v%d topics=%d\n", peer_name, q->key, q->ver, n);
	return send_response(fd, q->corr, &b);
}

/* ---- start --------------------------------------------------------------- */

/* ApiVersions v0 to the backend: the list clients get, plus the SASL apis. */
static int fetch_backend_apis(void)
{
	static const uint8_t req[] = { 0, 0, 0, 18, 0, API_API_VERSIONS, 0, 0, 0, 0, 0, 1,
				       0, 8, 's', 'a', 's', 'l', 'f', 'r', 'n', 't' };
	int fd = connect_to(backend), ok = -1;
	int32_t len;
	uint8_t *f;

	if (fd < 0)
		return -1;
	if (write_full(fd, req, sizeof(req)) || !(f = read_frame(fd, &len)))
		goto out;
	if (len >= 10 && rd16(f + 4) == 0) {
		int32_t n = (int32_t)rd32(f + 6), i;

		for (i = 0; i < n && napis < MAX_APIS - 4 && 10 + 6 * (i + 1) <= len; i++) {
			const uint8_t *e = f + 10 + 6 * i;
			int16_t key = (int16_t)rd16(e);

			if (key == API_SASL_HANDSHAKE || key == API_SASL_AUTHENTICATE ||
			    (admin && (key == API_CREATE_TOPICS || key == API_DELETE_TOPICS)))
				continue;
			apis[napis++] = (struct api_range){ key, (int16_t)rd16(e + 2),
							     (int16_t)rd16(e + 4) };
		}
		if (admin) {
			apis[napis++] = (struct api_range){ API_CREATE_TOPICS, 0, CREATE_TOPICS_MAX };
			apis[napis++] = (struct api_range){ API_DELETE_TOPICS, 0, DELETE_TOPICS_MAX };
		}
		apis[napis++] = (struct api_range){ API_SASL_HANDSHAKE, 0, SASL_HANDSHAKE_MAX };
		apis[napis++] = (struct api_range){ API_SASL_AUTHENTICATE, 0, SASL_AUTHENTICATE_MAX };
		ok = 0;
	}
	free(f);
out:
	close(fd);
	return ok;
}

static int load_users(const char *path)
{
	FILE *fp = fopen(path, "r");
	char line[MAX_FIELD * 2 + 2];

	if (!fp) {
		fprintf(stderr, "sasl_front: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp)) {
		char *colon;

		line[strcspn(line, "\r\n")] = 0;
		if (!line[0] || line[0] == '#')
			continue;
		colon = strchr(line, ':');
		if (!colon || nusers == MAX_USERS || colon - line >= MAX_FIELD ||
		    strlen(colon + 1) >= MAX_FIELD) {
			fprintf(stderr, "sasl_front: %s: bad line \"%s\"\n", path, line);
			fclose(fp);
			return -1;
		}
		*colon = 0;
		strcpy(users[nusers].name, line);
		strcpy(users[nusers].pass, colon + 1);
		nusers++;
	}
	fclose(fp);
	return 0;
}

static void on_term(int sig)
{
	(void)sig;
	/* the front is its own process group: stop the connections too */
	signal(SIGTERM, SIG_IGN);
	kill(0, SIGTERM);
	_exit(0);
}

int main(int argc, char **argv)
{
	const char *listen_at = NULL, *users_path = NULL;
	struct sockaddr_storage ss;
	socklen_t sl;
	char host[256], *colon;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai;
	int lfd, one = 1, i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--listen") && i + 1 < argc)
			listen_at = argv[++i];
		else if (!strcmp(argv[i], "--backend") && i + 1 < argc)
			backend = argv[++i];
		else if (!strcmp(argv[i], "--users") && i + 1 < argc)
			users_path = argv[++i];
		else if (!strcmp(argv[i], "--allow-plaintext"))
			allow_plaintext = 1;
		else if (!strcmp(argv[i], "--admin"))
			admin = 1;
		else {
			fprintf(stderr, "usage: %s --listen HOST:PORT --backend HOST:PORT "
					"--users FILE [--allow-plaintext]\n", argv[0]);
			return 2;
		}
	}
	if (!listen_at || !backend || !users_path)
		return fprintf(stderr, "sasl_front: --listen, --backend and --users are required\n"), 2;
	if (load_users(users_path))
		return 1;
	if (fetch_backend_apis()) {
		fprintf(stderr, "sasl_front: no ApiVersions answer from backend %s\n", backend);
		return 1;
	}
	snprintf(host, sizeof(host), "%s", listen_at);
	colon = strrchr(host, ':');
	if (!colon)
		return fprintf(stderr, "sasl_front: --listen %s: no port\n", listen_at), 2;
	*colon = 0;
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = 0;
	}
	if (getaddrinfo(host, colon + 1, &hints, &ai)) {
		fprintf(stderr, "sasl_front: --listen %s: bad address\n", listen_at);
		return 2;
	}
	lfd = socket(ai->ai_family, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, ai->ai_addr, ai->ai_addrlen) || listen(lfd, 64)) {
		fprintf(stderr, "sasl_front: listen %s: %s\n", listen_at, strerror(errno));
		return 1;
	}
	freeaddrinfo(ai);
	sl = sizeof(ss);
	getsockname(lfd, (struct sockaddr *)&ss, &sl);
	setpgid(0, 0);
	signal(SIGCHLD, SIG_IGN); /* no zombies */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	{
		char a[INET6_ADDRSTRLEN];
		int port;

		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
			port = ntohs(s6->sin6_port);
			printf("LISTENING [%s]:%d\n", a, port);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
			port = ntohs(s4->sin_port);
			printf("LISTENING %s:%d\n", a, port);
		}
		fflush(stdout);
	}
	for (;;) {
		struct sockaddr_storage pa;
		socklen_t pl = sizeof(pa);
		int cfd = accept(lfd, (struct sockaddr *)&pa, &pl);
		pid_t pid;

		if (cfd < 0)
			continue;
		pid = fork();
		if (pid == 0) {
			char a[INET6_ADDRSTRLEN] = "?";

			close(lfd);
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			if (pa.ss_family == AF_INET6)
				inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&pa)->sin6_addr, a,
					  sizeof(a));
			else
				inet_ntop(AF_INET, &((struct sockaddr_in *)&pa)->sin_addr, a,
					  sizeof(a));
			snprintf(peer_name, sizeof(peer_name), "%s", a);
			serve(cfd);
			close(cfd);
			_exit(0);
		}
		close(cfd);
	}
}
