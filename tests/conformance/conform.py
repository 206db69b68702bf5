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
    ap.add_argument('--emit', help='write one request stream per key (every version, CASES '
                    'frames each) to this file for the kernel test, and stop')
    a = ap.parse_args()

    seed = a.seed if a.seed is not None else random.SystemRandom().randint(1, 1 << 30)
    rng = random.Random(seed)
    schema = kgen.Schema()
    if a.emit:
        emit(a.emit, rng, schema, a.cases)
        return
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

    api_bad = check_apis(a.driver, schema)
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
    for line in api_bad:
        print('api table: ' + line)
    print('%d cases, %d disagreements' % (len(cases) + len(schema.keys),
                                          len(bad) + len(api_bad)))
    sys.exit(1 if bad or api_bad else 0)


def check_apis(driver, schema):
    """The decoder's api table against Kafka's: every key known, its newest version, the
    first flexible version (which header it uses), a program for every key whose body
    names topics (DECODED, or UNDECODABLE with a reason), a response program for every
    key the contract reads responses of. One case per key; then its known tagged fields
    (check_known_tags). Returns the disagreements."""
    out = subprocess.run([driver, '--apis'], capture_output=True, text=True, check=True).stdout
    apis, tags = {}, set()
    for line in out.splitlines():
        w = line.split()
        if w[0] == 'tag':
            tags.add(tuple(int(x) for x in w[1:]))
            continue
        apis[int(w[1])] = dict(known=int(w[2]), max=int(w[3]), flex=int(w[4]), prog=int(w[5]),
                              rprog=int(w[6]), topics=int(w[7]), op=w[8])
    bad = check_known_tags(schema, tags)
    for key in schema.keys:
        a = apis.get(key)
        vs = schema.versions(key)
        flex = min((b.flex[0] for b in schema.by[(key, 'req')] if b.flex), default=255)
        names = any(f for b in schema.by[(key, 'req')] for f in walk(b.fields)
                    if 'topic' in f.marks or 'topicid' in f.marks or 'res' in f.marks)
        if not a or not a['known']:
            bad.append('%d: not known' % key)
            continue
        if a['max'] != vs[-1]:
            bad.append('%d: newest version %d, Kafka %d' % (key, a['max'], vs[-1]))
        if a['flex'] != flex:
            bad.append('%d: flexible from %d, Kafka %d' % (key, a['flex'], flex))
        decoded = key in kgen.DECODED
        if decoded != bool(a['prog']) and key not in (18,):
            bad.append('%d: program %d, contract %s' % (key, a['prog'], decoded))
        if names and not decoded and not (key in kgen.UNDECODABLE and a['topics']):
            bad.append('%d: names topics, neither decoded nor marked undecodable' % key)
        if (key in kgen.RESPONSES) != bool(a['rprog']):
            bad.append('%d: response program %d, contract %s' % (key, a['rprog'],
                                                                  key in kgen.RESPONSES))
    return bad


def check_known_tags(schema, tags):
    """The decoder's table of known tagged fields (kd_known_tags: key, depth, tag, first
    version, size) against Kafka's: every tagged field of a fixed-size type nested in a
    request the decoder reads (the broker reads it by its type, whatever size it
    declares), and no other. depth counts the arrays and structs around the field."""
    want, bad = set(), []

    def nested(key, fields, depth):
        for f in fields:
            if f.tag is not None and f.type in kgen.FIXED and depth > 0:
                if f.tagv[1] != kgen.INF:
                    bad.append('%d: tag %s has last version %d' % (key, f.pathname(),
                                                                   f.tagv[1]))
                want.add((key, depth, f.tag, f.tagv[0], kgen.FIXED[f.type]))
            if f.sub:
                nested(key, f.sub, depth + 1)

    for b in schema.blocks:
        if b.dir == 'req' and b.key in kgen.DECODED:
            nested(b.key, b.fields, 0)
    for t in sorted(want - tags):
        bad.append('%d: known tagged field (depth %d, tag %d, v%d+, %d bytes) not checked'
                   % t)
    for t in sorted(tags - want):
        bad.append('%d: known tagged field (depth %d, tag %d, v%d+, %d bytes) not Kafka\'s'
                   % t)
    return bad


def walk(fields):
    for f in fields:
        yield f
        if f.sub:
            yield from walk(f.sub)


def emit(path, rng, schema, per_version):
    """u32 count, then per key: u32 length, the key's frames (host byte order)."""
    streams = []
    for key in schema.keys:
        data = b''
        for v in schema.versions(key):
            for _ in range(per_version):
                data += kgen.make(rng, schema, key, 'req', v)[0]
        streams.append(data)
    with open(path, 'wb') as f:
        f.write(struct.pack('<I', len(streams)))
        for d in streams:
            f.write(struct.pack('<I', len(d)) + d)


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
