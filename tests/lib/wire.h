/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kafka's wire types written big-endian into a buffer of known capacity, for the tools
 * that speak Kafka by hand: the raw clients of the benchmark (bench/kwire.c) and the
 * test-only SASL front (tests/tools/sasl_front.c). Header-only: both are built from one
 * source file each.
 *
 * A write past the capacity is a bug of the tool (its buffers are sized for what it
 * writes): the tool exits with status 1 after saying so on stderr, never writes past.
 */
#ifndef KGATE_TESTS_WIRE_H
#define KGATE_TESTS_WIRE_H

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wire_buf {
	uint8_t *p;
	size_t n, cap;
};

/* A buffer over the array arr (its size known here). */
#define WIRE_BUF(arr) ((struct wire_buf){ .p = (arr), .cap = sizeof(arr) })

static inline void wire_put(struct wire_buf *b, const void *v, size_t n)
{
	if (n > b->cap - b->n) {
		fprintf(stderr, "wire: %zu bytes more than the buffer's %zu\n", b->n + n - b->cap,
			b->cap);
		exit(1);
	}
	memcpy(b->p + b->n, v, n);
	b->n += n;
}

static inline void wire_put8(struct wire_buf *b, uint8_t v)
{
	wire_put(b, &v, 1);
}

static inline void wire_put16(struct wire_buf *b, int16_t v)
{
	uint16_t x = htons((uint16_t)v);

	wire_put(b, &x, 2);
}

static inline void wire_put32(struct wire_buf *b, int32_t v)
{
	uint32_t x = htonl((uint32_t)v);

	wire_put(b, &x, 4);
}

static inline void wire_put64(struct wire_buf *b, int64_t v)
{
	wire_put32(b, (int32_t)((uint64_t)v >> 32));
	wire_put32(b, (int32_t)v);
}

/* STRING: an int16 length, then the bytes. */
static inline void wire_str(struct wire_buf *b, const char *s)
{
	wire_put16(b, (int16_t)strlen(s));
	wire_put(b, s, strlen(s));
}

/* BYTES: an int32 length, then the bytes. */
static inline void wire_bytes(struct wire_buf *b, const void *p, size_t n)
{
	wire_put32(b, (int32_t)n);
	wire_put(b, p, n);
}

/* UNSIGNED_VARINT: 7 bits a byte, low first. */
static inline void wire_uvarint(struct wire_buf *b, uint64_t v)
{
	while (v >= 0x80) {
		wire_put8(b, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	wire_put8(b, (uint8_t)v);
}

/* VARINT (records): zigzag, then as UNSIGNED_VARINT. */
static inline void wire_varint(struct wire_buf *b, int64_t v)
{
	wire_uvarint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

#endif
