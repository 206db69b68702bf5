#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""
Derives kgate's table of Kafka message layouts from Apache Kafka's own message
definitions (clients/src/main/resources/common/message/*Request.json and
*Response.json in apache/kafka) and writes it in kgate's own compact format
(tests/conformance/kafka_messages.txt). The conformance generator
(tests/conformance/kgen.py) reads only that table; Kafka's files are not kept in
this repository.

  scripts/kafka_schema.py --newest DIR --sources FILE [--legacy DIR --legacy-src TOKEN]
                          -o OUT

--newest DIR     the newest definitions (one directory of *.json)
--sources FILE   "FILENAME SOURCE" lines: where each newest file came from (a commit or a
                 token), written as each block's src=; its '#' lines (what the tokens
                 mean) are copied into the table's header
--legacy DIR     an older trunk checkout's definitions: versions (and api keys) that the
                 newest files no longer define (Kafka 4.0 removed many old versions) are
                 taken from there, since brokers before 4.0 still accept them
--legacy-src     that checkout's source token (its commit)

Output format (one block per api key, direction and layout; '#' starts a comment):

  api KEY NAME req|resp VERSIONS flex=VERSIONS src=SHA [removed] [unstable=V]
    FIELD TYPE v=VERSIONS [null=VERSIONS] [tag=N@VERSIONS] [ent=ENTITY] [MARK]
      ... the fields of a struct or struct array, indented two more spaces

VERSIONS is "A-B", "A+" or "-" (none). TYPE is Kafka's: int8..int64, uint16, uint32,
float64, bool, string, bytes, records, uuid, []T for arrays; a struct is written as
"{}" and a struct array as "[]{}", their fields following. MARKs say which fields name
topics (kgate's own reading of the definitions):
  topic        a topic name (entityType topicName), or an array of them; also
               SubscribedTopicNames, which not every Kafka file marks
  topicid      a topic id (a uuid field named *TopicId)
  res=FIELD    a resource name whose type is the int8 sibling FIELD (config and ACL
               resources: type 2 is TOPIC in both enums; 1 is ANY for ACL filters)
  pat=FIELD    (on the same line) the ACL pattern type sibling, where there is one
  regex        a subscribed topic regular expression (consumer/streams group heartbeats)
"""
import argparse
import json
import os
import re
import sys

INF = 1 << 16  # "N+": open-ended version range


def strip_comments(text):
    """Kafka's message files are JSON with // comments; strings may hold '//'."""
    out, i, n, in_str = [], 0, len(text), False
    while i < n:
        c = text[i]
        if in_str:
            out.append(c)
            if c == '\\':
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                in_str = False
            i += 1
        elif c == '"':
            in_str = True
            out.append(c)
            i += 1
        elif text.startswith('//', i):
            j = text.find('\n', i)
            i = n if j < 0 else j
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def parse_range(s):
    """Kafka's version spec ("0+", "3-7", "5", "none") -> (lo, hi) or None."""
    s = (s or 'none').strip()
    if s == 'none':
        return None
    if s.endswith('+'):
        return (int(s[:-1]), INF)
    if '-' in s:
        a, b = s.split('-')
        return (int(a), int(b))
    return (int(s), int(s))


def fmt_range(r):
    if r is None:
        return '-'
    lo, hi = r
    return '%d+' % lo if hi >= INF else '%d-%d' % (lo, hi)


def intersect(a, b):
    if a is None or b is None:
        return None
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return (lo, hi) if lo <= hi else None


def load(path):
    with open(path) as f:
        return json.loads(strip_comments(f.read()))


def is_struct_type(t):
    base = t[2:] if t.startswith('[]') else t
    return bool(base) and base[0].isupper()


class Emitter:
    def __init__(self, msg):
        self.common = {c['name']: c for c in msg.get('commonStructs', [])}
        self.lines = []

    def fields(self, fields, depth, valid):
        names = {f['name']: f for f in fields}
        for f in fields:
            self.field(f, names, depth, valid)

    def field(self, f, siblings, depth, valid):
        t = f['type']
        vr = parse_range(f.get('versions'))
        # Fields outside the block's versions are left out (the removed versions of a
        # message keep their own block, from the file that still defined them).
        if intersect(vr, valid) is None:
            return
        words = [f['name']]
        struct = is_struct_type(t)
        words.append(('[]{}' if t.startswith('[]') else '{}') if struct else t)
        words.append('v=' + fmt_range(vr))
        nr = parse_range(f.get('nullableVersions'))
        if nr:
            words.append('null=' + fmt_range(nr))
        if 'tag' in f:
            words.append('tag=%d@%s' % (int(f['tag']), fmt_range(parse_range(f.get('taggedVersions')))))
        ent = f.get('entityType')
        if ent:
            words.append('ent=' + ent)
        words += self.marks(f, siblings)
        self.lines.append('  ' * (depth + 1) + ' '.join(words))
        if struct:
            sub = f.get('fields')
            if sub is None:
                base = t[2:] if t.startswith('[]') else t
                if base not in self.common:
                    sys.exit('%s: struct type %s not defined' % (f['name'], base))
                sub = self.common[base]['fields']
            self.fields(sub, depth + 1, valid)

    @staticmethod
    def marks(f, siblings):
        name, t, ent = f['name'], f['type'], f.get('entityType')
        if ent == 'topicName' and t in ('string', '[]string'):
            return ['topic']
        if name == 'SubscribedTopicNames' and t == '[]string':
            return ['topic']
        if t == 'uuid' and name.endswith('TopicId'):
            return ['topicid']
        if t == 'string' and re.fullmatch(r'ResourceName(Filter)?', name):
            rt = [s for s in ('ResourceType', 'ResourceTypeFilter') if s in siblings]
            pt = [s for s in ('ResourcePatternType', 'PatternType', 'PatternTypeFilter')
                  if s in siblings]
            out = ['res=' + rt[0]] if rt else []
            return out + (['pat=' + pt[0]] if pt else [])
        if t == 'string' and re.fullmatch(r'SubscribedTopicRegex', name):
            return ['regex']
        if t == '[]string' and re.fullmatch(r'SourceTopicRegex', name):
            return ['regex']
        return []


def block(msg, valid, src, removed):
    e = Emitter(msg)
    kind = 'req' if msg['type'] == 'request' else 'resp'
    name = msg['name'][:-len('Request')] if kind == 'req' else msg['name'][:-len('Response')]
    head = 'api %d %s %s %s flex=%s src=%s' % (msg['apiKey'], name, kind, fmt_range(valid),
                                              fmt_range(parse_range(msg['flexibleVersions'])),
                                              src)
    if removed:
        head += ' removed'
    if msg.get('latestVersionUnstable') and not removed:
        head += ' unstable=%d' % parse_range(msg['validVersions'])[1]
    e.fields(msg['fields'], 0, valid)
    return [head] + e.lines


def messages(d):
    out = {}
    for fn in sorted(os.listdir(d)):
        if not re.search(r'(Request|Response)\.json$', fn):
            continue
        m = load(os.path.join(d, fn))
        if m.get('type') not in ('request', 'response') or 'apiKey' not in m:
            continue
        out[(m['apiKey'], m['type'])] = (fn, m)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--newest', required=True)
    ap.add_argument('--sources', required=True)
    ap.add_argument('--legacy')
    ap.add_argument('--legacy-src', default='')
    ap.add_argument('-o', '--out', required=True)
    a = ap.parse_args()

    sources, notes = {}, []
    with open(a.sources) as f:
        for line in f:
            if line.startswith('#'):
                notes.append(line[1:].strip())
            elif line.strip():
                fn, src = line.split()
                sources[fn] = src
    newest = messages(a.newest)
    legacy = messages(a.legacy) if a.legacy else {}
    out = []
    for key, typ in sorted(set(newest) | set(legacy), key=lambda k: (k[0], k[1] != 'request')):
        nv = None
        if (key, typ) in newest:
            fn, m = newest[(key, typ)]
            nv = parse_range(m['validVersions'])
            out += block(m, nv, sources[fn], False)
        if (key, typ) in legacy:
            fn, m = legacy[(key, typ)]
            lv = parse_range(m['validVersions'])
            # only the versions below the newest file's first one (removed in Kafka 4.0)
            if nv is not None:
                lv = intersect(lv, (0, nv[0] - 1))
            if lv is not None:
                out += block(m, lv, a.legacy_src, True)
    hdr = [
        '# Kafka message layouts for kgate\'s conformance tests (tests/conformance/).',
        '# Derived by scripts/kafka_schema.py from Apache Kafka\'s message definitions',
        '#   (clients/src/main/resources/common/message/*Request.json, *Response.json).',
        '# Each block\'s src= says where its definition came from:',
    ]
    hdr += ['#   ' + n for n in notes]
    if a.legacy:
        hdr.append('# Blocks marked "removed": versions the newest files no longer define, '
                   'from src=%s.' % a.legacy_src)
    hdr.append('# Format: see scripts/kafka_schema.py.')
    with open(a.out, 'w') as f:
        f.write('\n'.join(hdr + out) + '\n')


if __name__ == '__main__':
    main()
