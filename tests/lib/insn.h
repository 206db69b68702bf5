/* SPDX-License-Identifier: Apache-2.0 */
/*
 * BPF instructions written by hand, for the unit tests' small programs on real maps (a
 * ring buffer's writer: test_events.c, test_drain.c), loaded with bpf_prog_load and run
 * with BPF_PROG_RUN: no clang step for a dozen instructions.
 */
#ifndef KGATE_TESTS_INSN_H
#define KGATE_TESTS_INSN_H

#include <linux/bpf.h>

#define INSN(c, d, s, o, i)                                                                       \
	((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define CALL(fn)    INSN(BPF_JMP | BPF_CALL, 0, 0, 0, fn)
#define MOV_K(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define MOV_X(d, s) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
/* two instructions: a map's fd into register d (the verifier makes it the map) */
#define LD_MAP(d, fd)                                                                              \
	INSN(BPF_LD | BPF_DW | BPF_IMM, d, BPF_PSEUDO_MAP_FD, 0, fd), INSN(0, 0, 0, 0, 0)
#define EXIT INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

#endif
