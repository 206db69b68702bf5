#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""
Schema-driven generator of Kafka requests and responses for the conformance run.

It reads tests/conformance/kafka_messages.txt (Kafka's message layouts, derived from
Kafka's own definitions by scripts/kafka_schema.py) and builds random valid frames of
any api key, version and direction, encoded as Kafka encodes them (classic and
flexible versions, compact types, nullable fields null or not, nullable structs,
unknown tagged fields), together with the facts kgate's decoder must report for each.

What the decoder must report is kgate's contract, written here once, from the marks
the table carries (which fields name topics), not from the decoder's own tables:
  - every request: key, version, correlation id, client id (first KD_CLIENT_ID_MAX bytes);
  - requests of the keys in DECODED: every topic entry (a name and/or a topic id, in
    stream order; a name array gives one entry per name), every group id, the "all
    topics" requests (ALL_ARRAYS, ALL_FROM), subscribed regular expressions, ACL
    resource patterns (acl_class), config resources of type TOPIC, every ACL or config
    resource that is not a topic (its type; one of any type too), the
    DescribeTopicPartitions cursor, the SaslHandshake mechanism, the Fetch session, the
    ShareFetch share session (member id, epoch);
  - responses of the keys in RESPONSES: the facts listed there, and for entry arrays
    where each element starts and ends in the stream.
"""
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE = os.path.join(HERE, 'kafka_messages.txt')

INF = 1 << 16
CLIENT_ID_MAX = 64   # KD_CLIENT_ID_MAX
GROUP_MAX = 249      # KD_GROUP_MAX
TOPIC_MAX = 249      # KD_TOPIC_MAX
NAME_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-'

# ---- the table --------------------------------------------------------------------


def parse_range(s):
    if s == '-':
        return None
    if s.endswith('+'):
        return (int(s[:-1]), INF)
    a, b = s.split('-')
    return (int(a), int(b))


def in_range(v, r):
    return r is not None and r[0] <= v <= r[1]


class Field:
    __slots__ = ('name', 'type', 'versions', 'null', 'tag', 'tagv', 'ent', 'marks', 'sub',
                 'path')

    def __init__(self, words, path):
        self.name, self.type = words[0], words[1]
        self.versions, self.null, self.tag, self.tagv, self.ent = None, None, None, None, None
        self.marks = {}
        self.sub = None
        self.path = path + [self.name]
        for w in words[2:]:
            if w.startswith('v='):
                self.versions = parse_range(w[2:])
            elif w.startswith('null='):
                self.null = parse_range(w[5:])
            elif w.startswith('tag='):
                t, r = w[4:].split('@')
                self.tag, self.tagv = int(t), parse_range(r)
            elif w.startswith('ent='):
                self.ent = w[4:]
            elif '=' in w:
                k, val = w.split('=')
                self.marks[k] = val
            else:
                self.marks[w] = True
        if self.type in ('{}', '[]{}'):
            self.sub = []

    def pathname(self):
        return '.'.join(self.path)


class Block:
    def __init__(self, words):
        self.key, self.name, self.dir = int(words[1]), words[2], words[3]
        self.versions = parse_range(words[4])
        self.flex = parse_range(words[5][5:])
        self.src = words[6][4:]
        self.removed = 'removed' in words
        self.fields = []


def load_table(path=TABLE):
    blocks = []
    stack = None
    with open(path) as f:
        for line in f:
            if line.startswith('#') or not line.strip():
                continue
            if line.startswith('api '):
                b = Block(line.split())
                blocks.append(b)
                stack = [(0, b.fields, [])]
                continue
            depth = (len(line) - len(line.lstrip(' '))) // 2
            while stack[-1][0] >= depth:
                stack.pop()
            parent_fields, parent_path = stack[-1][1], stack[-1][2]
            fld = Field(line.split(), parent_path)
            parent_fields.append(fld)
            if fld.sub is not None:
                stack.append((depth, fld.sub, fld.path))
    return blocks


class Schema:
    def __init__(self, path=TABLE):
        self.blocks = load_table(path)
        self.by = {}
        for b in self.blocks:
            self.by.setdefault((b.key, b.dir), []).append(b)
        self.keys = sorted({b.key for b in self.blocks})

    def block(self, key, d, v):
        for b in self.by.get((key, d), []):
            if in_range(v, b.versions):
                return b
        return None

    def versions(self, key, d='req'):
        out = []
        for b in self.by.get((key, d), []):
            out += range(b.versions[0], b.versions[1] + 1)
        return sorted(out)

    def name(self, key):
        return self.by[(key, 'req')][0].name

# ---- kgate's contract: what the decoder reports ------------------------------------


# Request keys whose bodies the decoder reads (the others report their header only).
DECODED = {0, 1, 2, 3, 8, 9, 17, 18, 19, 20, 21, 23, 24, 27, 28, 29, 30, 31, 32, 33, 34, 35,
           36, 37, 42, 43, 44, 45, 46, 47, 52, 53, 54, 55, 56, 59, 61, 68, 73, 74, 75, 76,
           78, 79, 83, 84, 85, 86, 87, 88, 90, 91, 92, 93}

# Keys whose bodies name topics but are not read, and why (README: "undecodable").
UNDECODABLE = {
    4: 'LeaderAndIsr: ZooKeeper-era controller-to-broker request, removed in Kafka 4.0',
    5: 'StopReplica: ZooKeeper-era controller-to-broker request, removed in Kafka 4.0',
    6: 'UpdateMetadata: ZooKeeper-era controller-to-broker request, removed in Kafka 4.0',
}

# Topic-naming fields that are not reported, and why.
NOT_REPORTED = {
    (1, 'ForgottenTopicsData'): 'Fetch: partitions leaving an incremental session (no access)',
    (78, 'ForgottenTopicsData'): 'ShareFetch: partitions leaving a share session (no access)',
    (68, 'TopicPartitions'): 'ConsumerGroupHeartbeat: the member\'s current assignment, '
                             'given by the coordinator (no access)',
    (75, 'Cursor'): 'DescribeTopicPartitions: the cursor is a position, reported as a cursor',
}

# Arrays whose null value (from version n) asks for every topic; ('empty', vmax): an
# empty array asks for every topic in versions up to vmax.
ALL_ARRAYS = {
    (3, 'Topics'): [('null', 1), ('empty', 0)],
    (9, 'Topics'): [('null', 2)],
    (9, 'Groups.Topics'): [('null', 8)],
    (35, 'Topics'): [('null', 0)],
    (43, 'TopicPartitions'): [('null', 0)],
    (46, 'Topics'): [('null', 0)],
    (75, 'Topics'): [('empty', INF)],
    (90, 'Groups.Topics'): [('null', 0)],
    (93, 'TopicPartitions'): [('null', 0)],
}
# Requests that always ask about every topic from this version: ListConfigResources v1+
# lists config resources of any type, topics among them.
ALL_FROM = {74: 1}

ACL_KEYS = {29, 30, 31}
CONFIG_KEYS = {32, 33, 44}
RES_TOPIC, RES_ANY = 2, 1                          # ResourceType (ACLs) / ConfigResource.Type
PAT_ANY, PAT_MATCH, PAT_LITERAL, PAT_PREFIXED = 1, 2, 3, 4


def acl_class(rtype, name, ptype):
    """
    What an ACL binding or filter says about topics (Kafka's ResourcePatternFilter):
    None (not about topics), ('topic', name) (exactly that topic), or a set of topics:
    ('all',) every topic, ('prefix', p) every topic starting with p, ('match', x) every
    ACL that applies to topic x (literal x, the wildcard, prefixes of x).
    """
    if rtype not in (RES_TOPIC, RES_ANY):
        return None
    if name is None:
        return ('all',)
    if ptype == PAT_LITERAL:
        return ('all',) if name == '*' else ('topic', name)
    if ptype == PAT_PREFIXED:
        return ('prefix', name)
    if ptype == PAT_ANY:
        return ('all',) if name == '*' else ('prefix', name)
    if ptype == PAT_MATCH:
        return ('match', name)
    return ('all',)  # UNKNOWN or not a pattern type: the broker refuses it; be safe


# Response programs: per key, the fields reported. 'entry': an array whose elements are
# topic entries (their start and end are reported); 'topic': a topic name or id field;
# 'err' / 'terr': an error code (terr: a topic's own, before its name); 'acl' / 'res':
# a resource name (ACL or config) reported by its type; 'cursor': a next-cursor name.
RESPONSES = {
    0: {'Responses.Name': 'topic', 'Responses.TopicId': 'topic',
        'Responses.PartitionResponses.ErrorCode': 'err'},
    1: {'Responses.Topic': 'topic', 'Responses.TopicId': 'topic',
        'Responses.Partitions.ErrorCode': 'err'},
    2: {'Topics.Name': 'topic', 'Topics.Partitions.ErrorCode': 'err'},
    3: {'Topics': 'entry', 'Topics.ErrorCode': 'terr', 'Topics.Name': 'topic',
        'Topics.TopicId': 'topic', 'Topics.Partitions.ErrorCode': 'err'},
    8: {'Topics.Name': 'topic', 'Topics.TopicId': 'topic', 'Topics.Partitions.ErrorCode': 'err'},
    9: {'Topics': 'entry', 'Topics.Name': 'topic', 'Topics.Partitions.ErrorCode': 'err',
        'Groups.Topics': 'entry', 'Groups.Topics.Name': 'topic', 'Groups.Topics.TopicId': 'topic',
        'Groups.Topics.Partitions.ErrorCode': 'err'},
    19: {'Topics': 'entry', 'Topics.Name': 'topic', 'Topics.TopicId': 'topic',
         'Topics.ErrorCode': 'err'},
    20: {'Responses': 'entry', 'Responses.Name': 'topic', 'Responses.TopicId': 'topic',
         'Responses.ErrorCode': 'err'},
    21: {'Topics.Name': 'topic', 'Topics.Partitions.ErrorCode': 'err'},
    24: {'ResultsByTransaction.TopicResults.Name': 'topic',
         'ResultsByTransaction.TopicResults.ResultsByPartition.PartitionErrorCode': 'err',
         'ResultsByTopicV3AndBelow.Name': 'topic',
         'ResultsByTopicV3AndBelow.ResultsByPartition.PartitionErrorCode': 'err'},
    29: {'Resources': 'entry', 'Resources.ResourceName': 'acl'},
    32: {'Results.ErrorCode': 'terr', 'Results.ResourceName': 'res'},
    33: {'Responses.ErrorCode': 'terr', 'Responses.ResourceName': 'res'},
    35: {'Results.Topics': 'entry', 'Results.Topics.Name': 'topic'},
    36: {'ErrorCode': 'err'},
    43: {'ReplicaElectionResults': 'entry', 'ReplicaElectionResults.Topic': 'topic',
         'ReplicaElectionResults.PartitionResult.ErrorCode': 'err'},
    44: {'Responses.ErrorCode': 'terr', 'Responses.ResourceName': 'res'},
    46: {'Topics': 'entry', 'Topics.Name': 'topic'},
    69: {'Groups.Members.Assignment.TopicPartitions': 'entry',
         'Groups.Members.Assignment.TopicPartitions.TopicId': 'topic',
         'Groups.Members.Assignment.TopicPartitions.TopicName': 'topic',
         'Groups.Members.TargetAssignment.TopicPartitions': 'entry',
         'Groups.Members.TargetAssignment.TopicPartitions.TopicId': 'topic',
         'Groups.Members.TargetAssignment.TopicPartitions.TopicName': 'topic'},
    74: {'ConfigResources': 'entry', 'ConfigResources.ResourceName': 'res'},
    75: {'Topics': 'entry', 'Topics.ErrorCode': 'terr', 'Topics.Name': 'topic',
         'Topics.TopicId': 'topic', 'Topics.Partitions.ErrorCode': 'err',
         'NextCursor.TopicName': 'cursor'},
    77: {'Groups.Members.Assignment.TopicPartitions': 'entry',
         'Groups.Members.Assignment.TopicPartitions.TopicId': 'topic',
         'Groups.Members.Assignment.TopicPartitions.TopicName': 'topic'},
    78: {'Responses.TopicId': 'topic', 'Responses.Partitions.ErrorCode': 'err'},
    79: {'Responses.TopicId': 'topic', 'Responses.Partitions.ErrorCode': 'err'},
    90: {'Groups.Topics': 'entry', 'Groups.Topics.TopicName': 'topic',
         'Groups.Topics.TopicId': 'topic', 'Groups.Topics.Partitions.ErrorCode': 'err'},
    91: {'Responses': 'entry', 'Responses.TopicName': 'topic', 'Responses.TopicId': 'topic',
         'Responses.Partitions.ErrorCode': 'err'},
    92: {'Responses': 'entry', 'Responses.TopicName': 'topic', 'Responses.TopicId': 'topic',
         'Responses.ErrorCode': 'err'},
}
# The config response programs read resource types in the ConfigResource enum, ACL
# responses in the ACL enum; both say TOPIC with 2.

# ---- encoding ---------------------------------------------------------------------


def uvarint(n):
    out = bytearray()
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


FIXED = {'int8': 1, 'int16': 2, 'int32': 4, 'int64': 8, 'uint16': 2, 'uint32': 4,
         'float64': 8, 'bool': 1, 'uuid': 16}


def esc(b):
    """Bytes as kgate decode prints them (kdr_text_bytes): \\xHH for the unprintable."""
    if isinstance(b, str):
        b = b.encode()
    return ''.join('\\x%02x' % c if c <= 0x20 or c >= 0x7f or c in b'\\,' else chr(c)
                   for c in b)


class Gen:
    """Builds one frame; facts are appended to self.facts as the bytes are written."""

    def __init__(self, rng, schema, key, d, v, opts):
        self.r, self.schema, self.key, self.dir, self.v = rng, schema, key, d, v
        self.block = schema.block(key, d, v)
        self.flex = in_range(v, self.block.flex)
        self.opts = opts
        self.facts = []
        self.buf = bytearray()
        self.base = 0   # offset of buf[0] from the frame's first byte (4 in the body)
        self.spec = RESPONSES.get(key, {}) if d == 'resp' else {}
        self.member = None   # ShareFetch's member id, for its session fact

    # -- random values
    def rname(self, lo=1, hi=TOPIC_MAX):
        r = self.r
        n = r.choice([r.randint(lo, max(lo, min(hi, 12))), r.randint(lo, hi)])
        s = ''.join(r.choice(NAME_CHARS) for _ in range(n))
        if s in ('.', '..'):
            s = 'x' + s
        return s[:hi] if len(s) > hi else s

    def uuid(self):
        if self.r.random() < 0.08:
            return bytes(16)
        return bytes(self.r.getrandbits(8) for _ in range(16))

    def count(self, cap=3):
        return self.r.choice([0, 1, 1, 2, self.r.randint(0, cap)])

    # -- primitive writers
    def w_len(self, n, width):
        """A length or count: uvarint n+1 (flexible) or i16/i32 (-1 = null)."""
        if self.flex:
            self.buf += uvarint(n + 1)
        else:
            self.buf += struct.pack('>h' if width == 2 else '>i', n)

    def w_str(self, s):
        if s is None:
            self.w_len(-1, 2)
        else:
            b = s.encode() if isinstance(s, str) else s
            self.w_len(len(b), 2)
            self.buf += b

    def w_bytes(self, b):
        if b is None:
            self.w_len(-1, 4)
        else:
            self.w_len(len(b), 4)
            self.buf += b

    def pos(self):
        return self.base + len(self.buf)

    # -- facts
    def fact(self, s):
        self.facts.append(s)

    # -- tagged fields
    def tagged(self, known):
        """The tagged-field section: known fields (sometimes) and unknown ones."""
        r = self.r
        items = {}
        for f in known:
            if r.random() < 0.5 and not (f.type == '{}' and f.null):
                sub = Gen(r, self.schema, self.key, self.dir, self.v, self.opts)
                sub.flex = True
                sub.value(f, quiet=True)
                items[f.tag] = bytes(sub.buf)
        if self.opts.get('unknown_tags', True) and r.random() < 0.3:
            for _ in range(r.randint(1, 2)):
                t = r.choice([r.randint(0, 40), r.randint(1000, 70000)])
                if t not in items and t not in {f.tag for f in known}:
                    items[t] = bytes(r.getrandbits(8) for _ in range(r.randint(0, 12)))
        self.buf += uvarint(len(items))
        for t in sorted(items):
            self.buf += uvarint(t) + uvarint(len(items[t])) + items[t]

    # -- structs
    def struct_fields(self, fields):
        """One struct: its fields in order, then (flexible) its tagged fields."""
        v = self.v
        present = [f for f in fields if in_range(v, f.versions)]
        plain = [f for f in present
                 if not (self.flex and f.tag is not None and in_range(v, f.tagv))]
        known_tags = [f for f in present if f not in plain]
        last_topic = max((i for i, f in enumerate(plain) if self.is_topic(f)), default=-1)
        last_res = max((i for i, f in enumerate(plain) if self.res_end(f)), default=-1)
        ctx = {'rtype': None, 'ptype': PAT_LITERAL, 'aname': None, 'name': None, 'id': None,
               'has_name': False}
        for i, f in enumerate(plain):
            val = self.value(f, ctx=ctx)
            if self.is_topic(f):
                if f.type == 'uuid':
                    ctx['id'] = val
                else:
                    ctx['name'], ctx['has_name'] = val, True
            if i == last_topic:
                self.topic_fact(ctx)
            if i == last_res:
                self.res_fact(ctx)
        if self.flex:
            self.tagged(known_tags)

    def topic_fact(self, ctx):
        """One topic entry: a name and/or a non-zero id (see the decoder's EMIT)."""
        name, tid = ctx['name'], ctx['id']
        parts = []
        if name is not None:
            parts.append('name=' + esc(name))
        if tid is not None and any(tid):
            parts.append('id=' + tid.hex())
        if parts:
            self.fact('topic ' + ' '.join(parts))
        elif self.dir == 'resp' and tid is not None:
            self.fact('topic zid')       # no name and the all-zero id
        elif ctx['has_name']:
            self.fact('topic null')      # a null name and no id
        # a request entry named by the all-zero id alone names no topic

    def is_topic(self, f):
        """A scalar topic field of this struct that the contract reports."""
        if f.type not in ('string', 'uuid'):
            return False
        if not ('topic' in f.marks or 'topicid' in f.marks):
            return False
        return self.reported(f)

    def reported(self, f):
        p = f.pathname()
        if self.dir == 'resp':
            return self.spec.get(p) == 'topic'
        if self.key not in DECODED:
            return False
        for (k, pre) in NOT_REPORTED:
            if k == self.key and (p == pre or p.startswith(pre + '.')):
                return False
        return True

    def res_end(self, f):
        """The field after which a resource (ACL pattern or config resource) is reported."""
        if self.dir == 'req':
            if self.key not in DECODED:
                return False
            if self.key in ACL_KEYS:
                return f.name in ('ResourcePatternType', 'PatternTypeFilter') or (
                    f.name in ('ResourceName', 'ResourceNameFilter') and self.v == 0)
            return self.key in CONFIG_KEYS and 'res' in f.marks
        kind = self.spec.get(f.pathname())
        if self.key == 29:
            return f.name == 'PatternType' or (kind == 'acl' and self.v == 0)
        if self.key == 74:
            return f.name == 'ResourceType' or (kind == 'res' and self.v == 0)
        return kind == 'res'

    def res_fact(self, ctx):
        if self.dir == 'req' and ctx['rtype'] != RES_TOPIC:
            # a resource that is not a topic (one of any type: besides its topics)
            self.fact('resource type=%d' % ctx['rtype'])
        if self.key in ACL_KEYS:
            c = acl_class(ctx['rtype'], ctx['aname'], ctx['ptype'])
        elif ctx['rtype'] == RES_TOPIC and ctx['aname'] is not None:
            c = ('topic', ctx['aname'])
        else:
            c = None
        if c is None:
            return
        if c[0] == 'topic':
            self.fact('topic name=' + esc(c[1]))
        elif c[0] == 'all':
            self.fact('topics all')
        else:
            self.fact('topics %s=%s' % (c[0], esc(c[1])))

    # -- one field's value
    def value(self, f, quiet=False, ctx=None):
        r, v = self.r, self.v
        nullable = in_range(v, f.null)
        t = f.type
        if t in FIXED:
            return self.fixed(f, ctx, quiet)
        if t == 'string':
            return self.string(f, nullable, ctx, quiet)
        if t in ('bytes', 'records'):
            b = None if nullable and r.random() < 0.2 else bytes(
                r.getrandbits(8) for _ in range(r.choice([0, r.randint(0, 40),
                                                          r.randint(0, 300)])))
            self.w_bytes(b)
            return b
        if t == '{}':
            if nullable and r.random() < 0.35:
                self.buf += struct.pack('>b', -1)
                return None
            if nullable:
                self.buf += struct.pack('>b', r.choice([1, 1, 0, 5]))   # any byte >= 0: present
            if quiet:
                saved, self.facts = self.facts, []
                self.struct_fields(f.sub)
                self.facts = saved
            else:
                self.struct_fields(f.sub)
            return True
        if t.startswith('[]'):
            if quiet:
                saved, self.facts = self.facts, []
                n = self.array(f, nullable)
                self.facts = saved
                return n
            return self.array(f, nullable)
        raise ValueError('type ' + t)

    def fixed(self, f, ctx, quiet):
        r = self.r
        t = f.type
        if t == 'uuid':
            val = self.uuid()
            self.buf += val
            return val
        n = FIXED[t]
        if t == 'bool':
            val = r.choice([0, 1])
        elif t == 'int8' and f.name in ('ResourceType', 'ResourceTypeFilter'):
            val = r.choice([RES_TOPIC, RES_TOPIC, RES_ANY, 0, 3, 4, 16, 32])
        elif t == 'int8' and f.name in ('ResourcePatternType', 'PatternType', 'PatternTypeFilter'):
            val = r.choice([PAT_LITERAL, PAT_LITERAL, PAT_PREFIXED, PAT_ANY, PAT_MATCH, 0, 7])
        else:
            val = r.getrandbits(8 * n)
            if r.random() < 0.2:
                val = r.choice([0, 1, (1 << (8 * n)) - 1])
        self.buf += val.to_bytes(n, 'big')
        if ctx is not None:
            if f.name in ('ResourceType', 'ResourceTypeFilter'):
                ctx['rtype'] = val
            elif f.name in ('ResourcePatternType', 'PatternType', 'PatternTypeFilter'):
                ctx['ptype'] = val
        if quiet:
            return val
        p = f.pathname()
        if self.dir == 'resp':
            kind = self.spec.get(p)
            if kind in ('err', 'terr'):
                self.fact('%s %d' % ('error_code' if kind == 'err' else 'topic_error_code',
                                       val if val < 0x8000 else val - 0x10000))
        elif self.key == 1 and p == 'SessionEpoch' and self.key in DECODED:
            sess, ep = struct.unpack('>ii', bytes(self.buf[-8:]))
            self.fact('session id=%d epoch=%d' % (sess, ep))
        elif self.key == 78 and p == 'ShareSessionEpoch' and self.key in DECODED:
            # a share session: the member id before it (kept up to TOPIC_MAX bytes)
            m = self.member
            ep = struct.unpack('>i', bytes(self.buf[-4:]))[0]
            self.fact('session member=%s epoch=%d' % (
                'null' if m is None else esc(m.encode()[:TOPIC_MAX]) +
                (' (truncated)' if len(m.encode()) > TOPIC_MAX else ''), ep))
        return val

    def string(self, f, nullable, ctx, quiet):
        r = self.r
        if nullable and r.random() < 0.25:
            s = None
        elif 'topic' in f.marks or 'res' in f.marks:
            s = self.rname()
            if 'res' in f.marks and r.random() < 0.1:
                s = '*'
        elif f.ent == 'groupId':
            s = self.rname(0, 40) if r.random() < 0.95 else self.rname(GROUP_MAX, 300)
        elif 'regex' in f.marks:
            s = r.choice(['', self.rname(1, 30) + '.*', '^' + self.rname(1, 60)])
        elif self.key == 17 and f.name == 'Mechanism':
            s = r.choice(['OAUTHBEARER', 'GSSAPI', 'X-' + self.rname(0, 8).upper(),
                          self.rname(0, 25)])
        else:
            s = self.rname(0, 20) if r.random() < 0.9 else self.rname(0, 300)
        self.w_str(s)
        if 'res' in f.marks and ctx is not None:
            ctx['aname'] = s
        if self.key == 78 and f.pathname() == 'MemberId':
            self.member = s
        if quiet:
            return s
        p = f.pathname()
        if self.dir == 'resp':
            if self.spec.get(p) == 'cursor' and s is not None:
                self.fact('cursor name=' + esc(s))
            return s
        if self.key not in DECODED:
            return s
        if self.key == 17 and f.name == 'Mechanism':
            self.fact('mechanism ' + esc(s if len(s) <= 20 else ''))
        elif f.ent == 'groupId' and s is not None:
            self.group_fact(s)
        elif 'regex' in f.marks and s:
            self.fact('topics regex=' + esc(s[:TOPIC_MAX]) +
                      (' (truncated)' if len(s) > TOPIC_MAX else ''))
        elif self.key == 75 and p == 'Cursor.TopicName':
            self.fact('cursor name=' + esc(s))
        return s

    def group_fact(self, s):
        b = s.encode()
        self.fact('group ' + esc(b[:GROUP_MAX]) + (' (truncated)' if len(b) > GROUP_MAX else ''))

    def array(self, f, nullable):
        r = self.r
        et = f.type[2:]
        p = f.pathname()
        all_rules = ALL_ARRAYS.get((self.key, p), []) \
            if self.dir == 'req' and self.key in DECODED else []
        n = None if nullable and r.random() < 0.25 else self.count(4)
        if n is not None and all_rules and r.random() < 0.2:
            n = 0
        self.w_len(-1 if n is None else n, 4)
        for kind, vv in all_rules:
            if (kind == 'null' and n is None and self.v >= vv) or \
               (kind == 'empty' and n == 0 and self.v <= vv):
                self.fact('topics all')
        if n is None:
            return None
        entry = self.dir == 'resp' and self.spec.get(p) == 'entry'
        for _ in range(n):
            if et == '{}':
                start = self.pos()
                self.struct_fields(f.sub)
                if entry:
                    self.fact('entry begin=%d end=%d' % (start, self.pos()))
            elif et == 'string':
                self.w_str(self.string_elem(f))
            elif et == 'uuid':
                self.buf += self.uuid()
            else:
                self.buf += r.getrandbits(8 * FIXED[et]).to_bytes(FIXED[et], 'big')
        return n

    def string_elem(self, f):
        """One element of a []string: topic names, group ids, regexes, or anything."""
        r = self.r
        if 'topic' in f.marks:
            s = self.rname()
            if self.reported(f):
                self.fact('topic name=' + s)
            return s
        if f.ent == 'groupId':
            s = self.rname(0, 40)
            if self.dir == 'req' and self.key in DECODED:
                self.group_fact(s)
            return s
        if 'regex' in f.marks:
            s = r.choice(['', self.rname(1, 30) + '.*'])
            if s and self.dir == 'req' and self.key in DECODED:
                self.fact('topics regex=' + esc(s))
            return s
        return self.rname(0, 20)

    # -- whole frames
    def request(self, corr, client_id):
        b = self.buf
        b += struct.pack('>hhi', self.key, self.v, corr)
        hdr_v0 = self.key == 7 and self.v == 0
        if not hdr_v0:
            self.flex_save = self.flex
            self.flex = False           # client_id is always an i16 string
            self.w_str(client_id)
            self.flex = self.flex_save
            if self.flex:
                self.tagged([])
        cid = '-' if client_id is None or hdr_v0 else esc(client_id.encode()[:CLIENT_ID_MAX]) + (
            '...' if len(client_id) > CLIENT_ID_MAX else '')
        self.facts.append('frame key=%d ver=%d corr=%d size=%%d client=%s' % (self.key, self.v,
                                                                              corr, cid))
        if self.key in ALL_FROM and self.v >= ALL_FROM[self.key]:
            self.fact('topics all')
        self.struct_body()
        self.fact('end')
        return self.finish()

    def response(self, corr):
        b = self.buf
        b += struct.pack('>i', corr)
        self.facts.append('response corr=%d size=%%d' % corr)
        if self.flex and self.key != 18:
            self.tagged([])
        if self.key not in RESPONSES:
            self.spec = {}
        self.struct_body()
        self.fact('end')
        return self.finish()

    def struct_body(self):
        # the body: the top-level fields and (flexible) the top-level tagged fields; the
        # frame's 4-byte size comes first, so positions are offset by 4
        self.base += 4
        self.struct_fields(self.block.fields)

    def finish(self):
        self.facts[0] = self.facts[0] % len(self.buf)
        return struct.pack('>i', len(self.buf)) + bytes(self.buf)


def make(rng, schema, key, d, v, corr=None, client_id='', opts=None):
    """One frame and its facts (entry offsets count from the frame's first byte)."""
    g = Gen(rng, schema, key, d, v, opts or {})
    if corr is None:
        corr = rng.randint(-(1 << 31), (1 << 31) - 1)
    if d == 'req':
        if client_id == '':
            client_id = None if rng.random() < 0.1 else g.rname(0, 80)
        data = g.request(corr, client_id)
    else:
        data = g.response(corr)
    return data, g.facts
