#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""
The conformance run: kgate's decoder against Kafka's own message definitions.

For every api key, every version Kafka defines (tests/conformance/kafka_messages.txt) and
both directions, CASES random frames are generated (kgen.py) with the facts the decoder
must report; then pipelined streams of random frames of every key. The host build of the
decoder (conform_drv) decodes each case whole, one byte at a time and, on a sample, split
at every byte; a case disagrees when the report differs from the generator's facts or a
chunking changes it. Prints the table per key and "N cases, D disagreements"; exits 1 on
any disagreement.

  conform.py --driver build/tests/conform_drv [--cases N] [--pipelined N] [--seed S]
             [--split-every N] [--show N]
"""
import argparse
import os
import random
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kgen  # noqa: E402

# A case that is split at every byte: one in this many (each key's newest version always).
SPLIT_EVERY = 40
# Frames in a pipelined stream.
PIPE_MIN, PIPE_MAX = 2, 8


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--driver', required=True)
    ap.add_argument('--cases', type=int, default=int(os.environ.get('CONFORMANCE_CASES', 4)),
                    help='cases per key, version and direction')
    ap.add_argument('--pipelined', type=int, default=200, help='pipelined streams per direction')
    ap.add_argument('--seed', type=int, default=int(os.environ.get('KGATE_SEED', 0)) or None)
    ap.add_argument('--split-every', type=int, default=SPLIT_EVERY)
    ap.add_argument('--show', type=int, default=10, help='disagreements shown in full')
    a = ap.parse_args()

    seed = a.seed if a.seed is not None else random.SystemRandom().randint(1, 1 << 30)
    rng = random.Random(seed)
    schema = kgen.Schema()
    cases = []   # (id, dir, keys [(key, ver)], data, facts, split)

    def add(d, frames, split):
        data, facts = b'', []
        for key, ver in frames:
            fb, ff = kgen.make(rng, schema, key, d, ver)
            data += fb
            facts += ff
        cases.append((len(cases), d, frames, data, facts, split))

    for key in schema.keys:
        for d in ('req', 'resp'):
            vs = schema.versions(key, d)
            for v in vs:
                for i in range(a.cases):
                    add(d, [(key, v)], (v == vs[-1] and i == 0) or
                        rng.randrange(a.split_every) == 0)
    single = len(cases)
    for d in ('req', 'resp'):
        allv = [(k, v) for k in schema.keys for v in schema.versions(k, d)]
        for _ in range(a.pipelined):
            add(d, [rng.choice(allv) for _ in range(rng.randint(PIPE_MIN, PIPE_MAX))],
                rng.randrange(a.split_every) == 0)

    with tempfile.NamedTemporaryFile(prefix='kgate-conform-', suffix='.bin') as f:
        f.write(b'KGC1')
        for cid, d, frames, data, facts, split in cases:
            f.write(struct.pack('<IBBHI', cid, 0 if d == 'req' else 1, 1 if split else 0,
                                len(frames), len(data)))
            for key, ver in frames:
                f.write(struct.pack('<HH', key, ver))
            f.write(data)
        f.flush()
        p = subprocess.run([a.driver, f.name], capture_output=True, text=True)
    if p.returncode:
        sys.stderr.write(p.stderr)
        sys.exit('conform.py: the driver failed (%d)' % p.returncode)

    got, split_bad = {}, {}
    cur = None
    for line in p.stdout.splitlines():
        if line.startswith('case '):
            cur = int(line[5:])
            got[cur] = []
        elif line.startswith('split '):
            split_bad[int(line.split()[1])] = line
        else:
            got[cur].append(line)

    per_key = {}
    bad = []
    for cid, d, frames, data, facts, split in cases:
        ok = got.get(cid) == facts and cid not in split_bad
        if cid < single:
            key, ver = frames[0]
            row = per_key.setdefault((key, d), [set(), 0, 0])
            row[0].add(ver)
            row[1] += 1
            row[2] += 0 if ok else 1
        if not ok:
            bad.append(cid)

    print('conformance: seed %d (KGATE_SEED=%d replays), table %s' %
          (seed, seed, os.path.relpath(kgen.TABLE)))
    print('%-4s %-30s %-11s %7s %7s %11s %7s' % ('key', 'api', 'req vers', 'cases', 'differ',
                                                  'resp vers', 'differ'))
    for key in schema.keys:
        rq = per_key.get((key, 'req'), [set(), 0, 0])
        rs = per_key.get((key, 'resp'), [set(), 0, 0])
        print('%-4d %-30s %-11s %7d %7d %11s %7d' % (
            key, schema.name(key), vrange(rq[0]), rq[1] + rs[1], rq[2], vrange(rs[0]), rs[2]))
    npipe = len(cases) - single
    pbad = sum(1 for c in bad if c >= single)
    print('pipelined streams: %d (%d frames), %d differ' % (
        npipe, sum(len(c[2]) for c in cases[single:]), pbad))
    print('split at every byte: %d cases' % sum(1 for c in cases if c[5]))
    for cid in bad[:a.show]:
        c = cases[cid]
        print('\n--- case %d (%s %s) ---' % (cid, c[1], ' '.join('%d/v%d' % kv for kv in c[2])))
        if cid in split_bad:
            print(split_bad[cid])
        show_diff(c[4], got.get(cid, []))
    print('%d cases, %d disagreements' % (len(cases), len(bad)))
    sys.exit(1 if bad else 0)


def vrange(vs):
    if not vs:
        return '-'
    return '%d-%d' % (min(vs), max(vs)) if len(vs) > 1 else str(min(vs))


def show_diff(want, got):
    import difflib
    for line in difflib.unified_diff(want, got, 'generator', 'decoder', lineterm='', n=2):
        print(line[:200])


if __name__ == '__main__':
    main()
