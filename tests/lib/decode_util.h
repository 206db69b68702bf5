/* SPDX-License-Identifier: Apache-2.0 */
/* Test helpers around the host build of the decoder: render, summarise, read fixtures. */
#ifndef KGATE_TESTS_DECODE_UTIL_H
#define KGATE_TESTS_DECODE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include "maps/kgate_abi.h"

/*
 * Decodes buf fed as chunks ending at each offset in cuts (ascending, < len; the
 * last chunk ends at len) and returns every event as text, one per line, plus a
 * final "eof" line with where the decoder stopped. Caller frees.
 */
char *du_render_cuts(const uint8_t *buf, size_t len, const size_t *cuts, int ncuts);
/* The same with chunks of a fixed size (0 = one chunk). */
char *du_render_chunked(const uint8_t *buf, size_t len, size_t chunk);
/*
 * One line per request in the fixtures' .expect format:
 *   key=K ver=V corr=C client=ID|- topics=T1,T2|-
 * followed by "error REASON" if decoding stopped. Caller frees.
 */
char *du_summary(const uint8_t *buf, size_t len);
/* Reads a whole file; NULL on error. Caller frees. */
uint8_t *du_read_file(const char *path, size_t *len);
/* Decodes buf in one chunk and returns the final state (for reason codes, leaks). */
void du_decode(const uint8_t *buf, size_t len, struct kd_state *st);

#endif
