#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Regenerates tests/fixtures/captures/: real client->broker Kafka byte streams
# and their expectations, for checking kgate's request decoder.
#
# For every (client, scenario) pair it starts a fresh broker on 127.0.0.1, a
# tcpdump on lo filtered to that broker's port, runs the client, and then:
#   - scripts/pcap_streams.py cuts each TCP connection's client->broker bytes
#     out of the pcap (reassembled by sequence number) into <name>-cN.bin;
#   - tshark's Kafka dissector, an oracle independent of our own parsers,
#     gives api_key, api_version, correlation_id, client_id and the topic
#     names of every request, written to <name>-cN.expect;
#   - the two are cross-checked: tshark must have dissected exactly the
#     frames that the byte stream holds, in the same order, or the run fails.
# Nothing in tests/fixtures/captures is touched unless every case succeeds.
#
# Clients: kcat, /usr/bin/python3 + confluent_kafka, /usr/bin/python3 +
# kafka-python. Broker: tests/tools/mock_broker.c (librdkafka's mock cluster),
# except for the "adminstub" scenario, whose broker is the test-only admin
# stub below (the mock neither advertises nor serves any admin API, so no
# client will send CreateTopics/DeleteTopics/DescribeConfigs/AlterConfigs to
# it; see tests/fixtures/captures/README.md).
#
# Usage: scripts/capture-fixtures.sh [--keep]
#   --keep  keep the work directory (pcaps, PDML, logs) and print its path
# Needs root (tcpdump), cc, pkg-config, librdkafka-dev, kcat, tcpdump, tshark,
# python3-confluent-kafka and python3-kafka (scripts/install-deps.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/tests/fixtures/captures
PY=/usr/bin/python3
# Upper bound for one client run; the slowest (a consumer group join against
# the mock) takes about 4 s.
CLIENT_TIMEOUT=60
# How long to wait for the broker's BOOTSTRAP line or tcpdump's "listening".
START_TIMEOUT_DS=100 # tenths of a second

KEEP=0
case "${1:-}" in
"") ;;
--keep) KEEP=1 ;;
-h | --help)
	sed -n '4,28p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "capture-fixtures: unknown argument '$1' (try --help)" >&2
	exit 2
	;;
esac

die() {
	echo "capture-fixtures: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root: tcpdump needs to capture on lo"
for tool in cc pkg-config tcpdump tshark kcat timeout; do
	command -v "$tool" >/dev/null || die "'$tool' not found; run scripts/install-deps.sh"
done
$PY -c 'import confluent_kafka, kafka' 2>/dev/null ||
	die "$PY lacks confluent_kafka or kafka (python3-confluent-kafka, python3-kafka)"

WORK=$(mktemp -d /tmp/kgate-capture.XXXXXX)
PIDS=()     # every background process this script started
SRV_FD=""   # write end of the broker's stdin fifo

cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	if [ -n "$SRV_FD" ]; then
		exec {SRV_FD}>&- || true
	fi
	for pid in "${PIDS[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
		fi
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [ "$KEEP" -eq 1 ]; then
		echo "capture-fixtures: work directory kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Removes a finished pid from PIDS so cleanup does not signal a reused pid.
forget() {
	local keep=() p
	for p in "${PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

# Waits until file $1 contains pattern $2; fails after START_TIMEOUT_DS.
wait_for() {
	local i
	for ((i = 0; i < START_TIMEOUT_DS; i++)); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

mkdir -p "$WORK/out" "$WORK/log"
# shellcheck disable=SC2046 # pkg-config output is meant to split into words
cc -O2 -Wall -o "$WORK/mock_broker" "$ROOT/tests/tools/mock_broker.c" \
	$(pkg-config --cflags --libs rdkafka)

# ---------------------------------------------------------------------------
# Client scenarios for the two Python clients.
# Usage: clients.py CLIENT SCENARIO BOOTSTRAP [RECORDS_TO_CONSUME]
cat >"$WORK/clients.py" <<'PYEOF'
import sys
import time

client, scenario, bootstrap = sys.argv[1:4]
want = int(sys.argv[4]) if len(sys.argv) > 4 else 0
PRODUCE_TOPICS = ["orders.eu", "payments-us", "audit_log"]
GROUP_TOPICS = ["orders.eu", "payments-us"]
NEW_TOPICS = ["created.eu-1", "created_us.2"]
DELETE_TOPICS = ["audit_log"]
CID = "kgate-" + client
GROUP = "kgate-" + client + "-grp"
DEADLINE = 25  # seconds to wait for the group's records


def log(*a):
    print(f"[{client}/{scenario}]", *a, file=sys.stderr)


def settle(futures):
    # Admin calls against the mock fail or time out; what matters is what
    # went on the wire, so failures are logged, not raised.
    for f in futures:
        try:
            log("result", f.result(timeout=5))
        except Exception as e:
            log("error", type(e).__name__, e)


def confluent():
    import confluent_kafka as ck
    from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

    base = {"bootstrap.servers": bootstrap, "client.id": CID}
    if scenario == "produce":
        # linger.ms lets all records queue before the first Produce.
        p = ck.Producer(dict(base, **{"linger.ms": 200}))
        for t in PRODUCE_TOPICS:
            for j in range(2):
                p.produce(t, key=f"k{j}", value=f"{t}#{j}")
        if p.flush(10):
            raise SystemExit("records left unsent")
    elif scenario == "group":
        c = ck.Consumer(dict(base, **{"group.id": GROUP, "auto.offset.reset": "earliest",
                                      "enable.auto.commit": False}))
        c.subscribe(GROUP_TOPICS)
        got, end = 0, time.time() + DEADLINE
        while got < want and time.time() < end:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got += 1
        log("consumed", got)
        c.commit(asynchronous=False)
        c.close()
        if got < want:
            raise SystemExit(f"consumed {got} of {want} records")
    elif scenario == "metadata":
        a = AdminClient(base)
        log("all", sorted(a.list_topics(timeout=5).topics))
        log("one", sorted(a.list_topics(topic="payments-us", timeout=5).topics))
    elif scenario in ("admin", "adminstub"):
        a = AdminClient(base)
        futs = list(a.create_topics([NewTopic(t, 1, 1) for t in NEW_TOPICS],
                                    request_timeout=3, operation_timeout=1).values())
        futs += list(a.delete_topics(DELETE_TOPICS, request_timeout=3,
                                     operation_timeout=1).values())
        if scenario == "adminstub":
            futs += list(a.describe_configs([ConfigResource("topic", "orders.eu"),
                                             ConfigResource("broker", "1")],
                                            request_timeout=3).values())
            futs += list(a.alter_configs([ConfigResource("topic", "payments-us",
                                                         set_config={"retention.ms": "3600000"})],
                                         request_timeout=3).values())
        settle(futs)
    else:
        raise SystemExit(f"unknown scenario {scenario}")


def kafkapython():
    import kafka
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic

    base = dict(bootstrap_servers=bootstrap, client_id=CID)
    if scenario == "produce":
        p = kafka.KafkaProducer(linger_ms=200, **base)
        for t in PRODUCE_TOPICS:
            for j in range(2):
                p.send(t, key=f"k{j}".encode(), value=f"{t}#{j}".encode())
        p.flush(10)
        p.close(5)
    elif scenario == "group":
        c = kafka.KafkaConsumer(group_id=GROUP, auto_offset_reset="earliest",
                                enable_auto_commit=False, **base)
        c.subscribe(GROUP_TOPICS)
        got, end = 0, time.time() + DEADLINE
        while got < want and time.time() < end:
            for recs in c.poll(500).values():
                got += len(recs)
        log("consumed", got)
        c.commit()
        c.close()
        if got < want:
            raise SystemExit(f"consumed {got} of {want} records")
    elif scenario == "metadata":
        a = KafkaAdminClient(**base)
        log("three", sorted(t["topic"] for t in a.describe_topics(PRODUCE_TOPICS)))
        log("all", sorted(a.list_topics()))
        a.close()
    elif scenario in ("admin", "adminstub"):
        try:
            a = KafkaAdminClient(request_timeout_ms=3000, **base)
        except Exception as e:
            log("admin client", type(e).__name__, e)
            return
        calls = [lambda: a.create_topics([NewTopic(t, 1, 1) for t in NEW_TOPICS], timeout_ms=1000),
                 lambda: a.delete_topics(DELETE_TOPICS, timeout_ms=1000)]
        if scenario == "adminstub":
            topic, broker = ConfigResourceType.TOPIC, ConfigResourceType.BROKER
            alter = ConfigResource(topic, "payments-us", configs={"retention.ms": "3600000"})
            calls += [lambda: a.describe_configs([ConfigResource(topic, "orders.eu"),
                                                  ConfigResource(broker, "1")]),
                      lambda: a.alter_configs([alter])]
        for call in calls:
            # kafka-python refuses, before sending, any API the broker does
            # not advertise (IncompatibleBrokerVersion): logged, not raised.
            try:
                log("result", call())
            except Exception as e:
                log("error", type(e).__name__, e)
        a.close()
    else:
        raise SystemExit(f"unknown scenario {scenario}")


{"confluent": confluent, "kafkapython": kafkapython}[client]()
PYEOF

# ---------------------------------------------------------------------------
# TEST-ONLY ADMIN STUB. Not a Kafka broker and not used by any other test.
# librdkafka 2.0.2's mock advertises no CreateTopics (19), DeleteTopics (20),
# DescribeConfigs (32) or AlterConfigs (33), so librdkafka and kafka-python
# both refuse to put those requests on the wire against it. This stub
# advertises them (with ApiVersions and Metadata, which clients need first),
# answers with success, and exists only so the real clients send their admin
# requests for capture. Same protocol as mock_broker: prints
# "BOOTSTRAP host:port", serves until SIGTERM or EOF on stdin.
cat >"$WORK/admin_stub.py" <<'PYEOF'
import os
import signal
import socketserver
import struct
import sys
import threading

NODE_ID = 1
# (api_key, min, max). Every version a client can pick from these is
# non-flexible except ApiVersions v3, whose flexible body is encoded below.
APIS = [(3, 0, 5), (18, 0, 3), (19, 0, 4), (20, 0, 3), (32, 0, 2), (33, 0, 1)]
topics = ["orders.eu", "payments-us", "audit_log"]
lock = threading.Lock()


class Reader:
    def __init__(self, b):
        self.b, self.o = b, 0

    def take(self, fmt):
        v = struct.unpack_from(">" + fmt, self.b, self.o)
        self.o += struct.calcsize(">" + fmt)
        return v[0] if len(v) == 1 else v

    def string(self):
        n = self.take("h")
        if n < 0:
            return None
        s = self.b[self.o:self.o + n].decode()
        self.o += n
        return s

    def array(self, item):
        n = self.take("i")
        return None if n < 0 else [item() for _ in range(n)]


def s16(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def arr(items):
    return struct.pack(">i", len(items)) + b"".join(items)


def api_versions(ver, r):
    if ver >= 3:
        # Compact array: count + 1 as an unsigned varint (< 128 here).
        body = struct.pack(">hB", 0, len(APIS) + 1)
        body += b"".join(struct.pack(">hhh", *a) + b"\0" for a in APIS)
        return body + struct.pack(">i", 0) + b"\0"
    body = struct.pack(">h", 0) + arr([struct.pack(">hhh", *a) for a in APIS])
    return body + (struct.pack(">i", 0) if ver >= 1 else b"")


def metadata(ver, r, port):
    want = r.array(r.string)
    with lock:
        names = want if want else list(topics)
        known = set(topics)
    broker = struct.pack(">i", NODE_ID) + s16("127.0.0.1") + struct.pack(">i", port)
    if ver >= 1:
        broker += s16(None)  # rack
    out = struct.pack(">i", 0) if ver >= 3 else b""
    out += arr([broker])
    if ver >= 2:
        out += s16("kgate-admin-stub")
    if ver >= 1:
        out += struct.pack(">i", NODE_ID)  # controller: the clients need one
    internal = b"\0" if ver >= 1 else b""
    tl = []
    for n in names:
        if n not in known:
            tl.append(struct.pack(">h", 3) + s16(n) + internal + arr([]))
            continue
        part = struct.pack(">hii", 0, 0, NODE_ID) + arr([struct.pack(">i", NODE_ID)]) * 2
        if ver >= 5:
            part += arr([])  # offline replicas
        tl.append(struct.pack(">h", 0) + s16(n) + internal + arr([part]))
    return out + arr(tl)


def create_topics(ver, r):
    def topic():
        name = r.string()
        r.take("ih")
        r.array(lambda: (r.take("i"), r.array(lambda: r.take("i"))))
        r.array(lambda: (r.string(), r.string()))
        return name
    names = r.array(topic)
    with lock:
        topics.extend(n for n in names if n not in topics)
    out = struct.pack(">i", 0) if ver >= 2 else b""
    return out + arr([s16(n) + struct.pack(">h", 0) + (s16(None) if ver >= 1 else b"")
                      for n in names])


def delete_topics(ver, r):
    names = r.array(r.string)
    with lock:
        for n in names:
            if n in topics:
                topics.remove(n)
    out = struct.pack(">i", 0) if ver >= 1 else b""
    return out + arr([s16(n) + struct.pack(">h", 0) for n in names])


def describe_configs(ver, r):
    res = r.array(lambda: (r.take("b"), r.string(), r.array(r.string)))
    out = []
    for rtype, name, _ in res:
        cfg = s16("retention.ms") + s16("604800000") + b"\0"  # read_only
        cfg += b"\x01" if ver == 0 else b"\x05"  # is_default / DEFAULT_CONFIG
        cfg += b"\0" + (arr([]) if ver >= 1 else b"")  # sensitive, synonyms
        out.append(struct.pack(">h", 0) + s16(None) + struct.pack(">b", rtype) + s16(name)
                   + arr([cfg]))
    return struct.pack(">i", 0) + arr(out)


def alter_configs(ver, r):
    res = r.array(lambda: (r.take("b"), r.string(),
                           r.array(lambda: (r.string(), r.string()))))
    return struct.pack(">i", 0) + arr([struct.pack(">h", 0) + s16(None)
                                       + struct.pack(">b", t) + s16(n) for t, n, _ in res])


HANDLERS = {19: create_topics, 20: delete_topics, 32: describe_configs, 33: alter_configs}


class Handler(socketserver.BaseRequestHandler):
    def recv(self, n):
        b = b""
        while len(b) < n:
            c = self.request.recv(n - len(b))
            if not c:
                raise EOFError
            b += c
        return b

    def handle(self):
        port = self.server.server_address[1]
        try:
            while True:
                size = struct.unpack(">i", self.recv(4))[0]
                r = Reader(self.recv(size))
                key, ver, corr = r.take("hhi")
                r.string()  # client_id
                if key == 18:
                    if ver >= 3:
                        r.take("B")  # request header v2: empty tagged fields
                    body = api_versions(ver, r)
                elif key == 3:
                    body = metadata(ver, r, port)
                elif key in HANDLERS:
                    body = HANDLERS[key](ver, r)
                else:
                    print(f"admin_stub: api {key} v{ver} not served; closing", file=sys.stderr)
                    return
                # Response header v0 for all: no flexible version is served
                # except ApiVersions, whose response always uses header v0.
                msg = struct.pack(">i", corr) + body
                self.request.sendall(struct.pack(">i", len(msg)) + msg)
        except (EOFError, ConnectionError):
            return


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), Handler)
signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
threading.Thread(target=srv.serve_forever, daemon=True).start()
print(f"BOOTSTRAP 127.0.0.1:{srv.server_address[1]}", flush=True)
try:
    while sys.stdin.buffer.read1(256):
        pass
except KeyboardInterrupt:
    pass
PYEOF

# ---------------------------------------------------------------------------
# tshark PDML -> .expect per connection, plus one MANIFEST row per connection
# on stdout. Usage: expect.py PDML CONNS OUTDIR CLIENT SCENARIO TSHARK_VERSION
# CONNS is pcap_streams.py --frames output: it names the connections and is
# used only to check that tshark dissected every request frame, in order.
# Every value on a key=... line comes from tshark.
cat >"$WORK/expect.py" <<'PYEOF'
import os
import sys
import xml.etree.ElementTree as ET

pdml, conns_path, outdir, client, scenario, tsver = sys.argv[1:7]

# APIs whose topic entries are listed: Produce, Fetch, ListOffsets, Metadata,
# OffsetCommit, OffsetFetch, CreateTopics, DeleteTopics, DeleteRecords,
# AddPartitionsToTxn.
TOPIC_APIS = {0, 1, 2, 3, 8, 9, 19, 20, 21, 24}
# DescribeConfigs, AlterConfigs: only resources of resource_type 2 (TOPIC).
CONFIG_APIS = {32, 33}
RESOURCE_TOPIC = "2"
METADATA = 3
# Fetch v7+ forgotten_topics_data names topics the consumer drops from its fetch
# session; nothing is done to them, so kgate's decoder does not report them and the
# expectations leave them out too (kafka.forgotten_topic_name).
TOPIC_FIELDS = ("kafka.topic_name",)
NULL_SHOW = "[ Null ]"  # how the dissector shows a null string


def die(msg):
    sys.exit(f"expect.py: {msg}")


conns, order, cur = {}, [], None
with open(conns_path) as f:
    for line in f:
        parts = line.rstrip("\n").split("\t")
        if parts[0] == "":
            if parts[1] != "frame":
                die(f"{cur['file']}: the stream ends in a partial Kafka frame")
            cur["frames"].append(tuple(int(x) for x in parts[4:7]))
            continue
        num, ip, port, nbytes, path = parts
        cur = {"num": int(num), "bytes": int(nbytes), "file": os.path.basename(path),
               "frames": [], "reqs": []}
        conns[(ip, int(port))] = cur
        order.append(cur)

root = ET.parse(pdml).getroot()
for pkt in root.iter("packet"):
    src = sport = frame_no = None
    for fld in pkt.iter("field"):
        name = fld.get("name")
        if name in ("ip.src", "ipv6.src") and src is None:
            src = fld.get("show")
        elif name == "tcp.srcport" and sport is None:
            sport = int(fld.get("show"))
        elif name == "frame.number" and frame_no is None:
            frame_no = fld.get("show")
    for proto in pkt.findall("proto"):
        if proto.get("name") != "kafka":
            continue
        req = {"key": None, "ver": None, "corr": None, "client": None, "topics": [],
               "resources": [], "experts": []}
        rtype = None
        for fld in proto.iter("field"):
            name, show = fld.get("name"), fld.get("show")
            if name == "kafka.request_key" and req["key"] is None:
                req["key"] = int(show)
            elif name == "kafka.request.version" and req["ver"] is None:
                req["ver"] = int(show)
            elif name == "kafka.correlation_id" and req["corr"] is None:
                req["corr"] = int(show)
            elif name == "kafka.client_id" and req["client"] is None:
                req["client"] = show
            elif name in TOPIC_FIELDS:
                req["topics"].append(show)
            elif name == "kafka.config_resource_type":
                rtype = show
            elif name == "kafka.config_resource_name":
                req["resources"].append((rtype, show))
            elif name == "_ws.expert.message":
                req["experts"].append(show)
        if req["key"] is None:
            continue  # a response: it carries response_key, not request_key
        conn = conns.get((src, sport))
        if conn is None:
            die(f"frame {frame_no}: request from {src}:{sport} on no connection "
                "that pcap_streams.py reported")
        conn["reqs"].append(req)

for c in order:
    got = [(r["key"], r["ver"], r["corr"]) for r in c["reqs"]]
    if got != c["frames"]:
        die(f"{c['file']}: tshark dissected (key, ver, corr) {got}\n"
            f"  but the byte stream frames as {c['frames']}")
    lines = [f"# {c['file']}: {client}, scenario {scenario}, connection {c['num']}: "
             f"{c['bytes']} bytes, {len(got)} requests; values from the tshark {tsver} "
             "Kafka dissector"]
    for r in c["reqs"]:
        corr, key = r["corr"], r["key"]
        topics = list(r["topics"]) if key in TOPIC_APIS else []
        if r["topics"] and key not in TOPIC_APIS:
            lines.append(f"# corr={corr}: tshark shows topic names {','.join(r['topics'])} "
                         f"for api {key}, which is not a topic-listing API; not listed")
        if key in CONFIG_APIS:
            for rt, rn in r["resources"]:
                if rt == RESOURCE_TOPIC:
                    topics.append(rn)
                else:
                    lines.append(f"# corr={corr}: resource_type {rt} name '{rn}' is not "
                                 "a topic; not listed")
        if key == METADATA and r["ver"] >= 1 and not topics:
            lines.append(f"# corr={corr}: Metadata v{r['ver']} with no topic entries; tshark "
                         "does not show whether the array was null (all topics) or empty")
        for msg in dict.fromkeys(r["experts"]):
            if key in TOPIC_APIS or key in CONFIG_APIS:
                # Topics could be wrong: stop rather than record a guess.
                die(f"{c['file']}: corr={corr} api {key}: tshark expert info '{msg}'; "
                    "check this request by hand")
            lines.append(f"# corr={corr}: tshark warns '{msg}' in the body of api {key} "
                         "(it lists no topics); header fields are unaffected")
        cid = "-" if r["client"] in (None, NULL_SHOW) else r["client"]
        lines.append(f"key={key} ver={r['ver']} corr={corr} client={cid} "
                     f"topics={','.join(topics) if topics else '-'}")
    with open(os.path.join(outdir, c["file"][:-len(".bin")] + ".expect"), "w") as f:
        f.write("\n".join(lines) + "\n")
    pairs = sorted(set((k, v) for k, v, _ in got))
    print("\t".join([c["file"], client, scenario, f"c{c['num']}", str(len(got)),
                     " ".join(f"({k},{v})" for k, v in pairs)]))
PYEOF

# ---------------------------------------------------------------------------
PORT=""
BOOT=""
SRV_PID=""
TD_PID=""

# start_server mock|stub LOGNAME: fresh broker; sets PORT, BOOT, SRV_PID, SRV_FD.
start_server() {
	local fifo=$WORK/$2.stdin
	mkfifo "$fifo"
	# stdin is a fifo held open by this script: if the script dies without
	# running its trap, the broker sees EOF and exits by itself.
	if [ "$1" = stub ]; then
		$PY "$WORK/admin_stub.py" <"$fifo" >"$WORK/log/$2.server.out" \
			2>"$WORK/log/$2.server.err" &
	else
		"$WORK/mock_broker" --topic orders.eu:2 --topic payments-us:1 --topic audit_log:1 \
			<"$fifo" >"$WORK/log/$2.server.out" 2>"$WORK/log/$2.server.err" &
	fi
	SRV_PID=$!
	PIDS+=("$SRV_PID")
	exec {SRV_FD}>"$fifo"
	wait_for "$WORK/log/$2.server.out" '^BOOTSTRAP ' ||
		die "$2: broker printed no BOOTSTRAP line; see $WORK/log/$2.server.err"
	BOOT=$(awk '/^BOOTSTRAP /{print $2; exit}' "$WORK/log/$2.server.out")
	PORT=${BOOT##*:}
}

stop_server() {
	exec {SRV_FD}>&-
	SRV_FD=""
	kill -TERM "$SRV_PID" 2>/dev/null || true
	wait "$SRV_PID" || true
	forget "$SRV_PID"
}

# start_capture PCAP LOGNAME: only the broker's port, whole packets, each
# packet written as it arrives.
start_capture() {
	tcpdump -i lo -s 0 -U --immediate-mode -Z root -w "$1" "tcp port $PORT" \
		2>"$WORK/log/$2.tcpdump" &
	TD_PID=$!
	PIDS+=("$TD_PID")
	wait_for "$WORK/log/$2.tcpdump" 'listening on' ||
		die "$2: tcpdump did not start; see $WORK/log/$2.tcpdump"
}

stop_capture() {
	# Loopback delivery is synchronous, but give tcpdump time to write the
	# last FIN/ACK before it stops.
	sleep 0.3
	kill -INT "$TD_PID"
	wait "$TD_PID" || true
	forget "$TD_PID"
	grep -q '^0 packets dropped by kernel' "$WORK/log/$1.tcpdump" ||
		die "$1: tcpdump dropped packets: $(tail -3 "$WORK/log/$1.tcpdump")"
}

# Records the group scenario consumes; produced before the capture starts.
SEED_PER_TOPIC=2
seed() {
	local t i
	for t in orders.eu payments-us; do
		for ((i = 0; i < SEED_PER_TOPIC; i++)); do
			echo "seed-k$i:$t seed $i"
		done | kcat -b "$BOOT" -P -t "$t" -K : -X client.id=kgate-seed
	done
}

# run_client CLIENT SCENARIO LOGNAME: in the background, so a signal to this
# script is handled at once rather than after the client ends.
run_client() {
	local c=$1 s=$2 log=$WORK/log/$3.client pid
	case "$c/$s" in
	kcat/produce)
		# kcat -P writes to one topic per run: no multi-topic Produce.
		printf 'k1:order-1\nk2:order-2\nk1:order-3\n' |
			timeout "$CLIENT_TIMEOUT" kcat -b "$BOOT" -P -t orders.eu -K : \
				-X client.id=kgate-kcat -X linger.ms=200 >"$log" 2>&1 &
		;;
	kcat/group)
		# -c: exit after the seeded records; kcat commits them on close.
		timeout "$CLIENT_TIMEOUT" kcat -b "$BOOT" -G kgate-kcat-grp orders.eu payments-us \
			-X client.id=kgate-kcat -X auto.offset.reset=earliest \
			-c $((2 * SEED_PER_TOPIC)) -q >"$log" 2>&1 &
		;;
	kcat/metadata)
		{ timeout "$CLIENT_TIMEOUT" kcat -b "$BOOT" -L -X client.id=kgate-kcat &&
			timeout "$CLIENT_TIMEOUT" kcat -b "$BOOT" -L -t payments-us \
				-X client.id=kgate-kcat; } >"$log" 2>&1 &
		;;
	confluent/* | kafkapython/*)
		timeout "$CLIENT_TIMEOUT" $PY "$WORK/clients.py" "$c" "$s" "$BOOT" \
			$((2 * SEED_PER_TOPIC)) >"$log" 2>&1 &
		;;
	*) die "no scenario $s for client $c" ;;
	esac
	pid=$!
	PIDS+=("$pid")
	if ! wait "$pid"; then
		forget "$pid"
		die "$c $s failed: $(tail -5 "$log")"
	fi
	forget "$pid"
}

TSHARK_VERSION=$(tshark --version 2>/dev/null | awk 'NR==1{print $3}')
: >"$WORK/manifest"

run_case() {
	local c=$1 s=$2 name=$1-$2
	local pcap=$WORK/$name.pcap
	echo "capture-fixtures: $name" >&2
	start_server "$([ "$s" = adminstub ] && echo stub || echo mock)" "$name"
	[ "$s" = group ] && seed
	start_capture "$pcap" "$name"
	run_client "$c" "$s" "$name"
	stop_capture "$name"
	stop_server
	$PY "$ROOT/scripts/pcap_streams.py" "$pcap" --port "$PORT" --frames \
		--outdir "$WORK/out" --prefix "$name" >"$WORK/log/$name.conns"
	[ -s "$WORK/log/$name.conns" ] || die "$name: no connection to port $PORT captured"
	# -d: the mock's port is random, so tell the dissector where Kafka is.
	# Only client->broker packets; reassembly of PDUs across segments is on.
	tshark -r "$pcap" -o tcp.desegment_tcp_streams:TRUE -d "tcp.port==$PORT,kafka" \
		-Y "kafka && tcp.dstport==$PORT" -T pdml >"$WORK/log/$name.pdml" 2>/dev/null
	$PY "$WORK/expect.py" "$WORK/log/$name.pdml" "$WORK/log/$name.conns" "$WORK/out" \
		"$c" "$s" "$TSHARK_VERSION" >>"$WORK/manifest"
}

START=$SECONDS
for c in kcat confluent kafkapython; do
	for s in produce group metadata admin adminstub; do
		# kcat has no admin API: it cannot send CreateTopics or DeleteTopics.
		[ "$c" = kcat ] && case $s in admin | adminstub) continue ;; esac
		run_case "$c" "$s"
	done
done

{
	echo "# kgate capture fixtures, written by scripts/capture-fixtures.sh; see README.md."
	echo "# librdkafka $(pkg-config --modversion rdkafka) (mock broker, kcat and confluent_kafka)," \
		"$(kcat -V 2>&1 | awk '/^Version/{print "kcat", $2; exit}')," \
		"confluent_kafka $($PY -c 'import confluent_kafka as c; print(c.version()[0])')" \
		"(librdkafka $($PY -c 'import confluent_kafka as c; print(c.libversion()[0])'))," \
		"kafka-python $($PY -c 'import kafka; print(kafka.__version__)')," \
		"python $($PY -c 'import platform; print(platform.python_version())')," \
		"tshark $TSHARK_VERSION"
	echo "# Not captured: kcat admin/adminstub (kcat has no admin API)."
	echo "# pairs are the distinct (api_key,api_version) of the connection's requests."
	printf '# file\tclient\tscenario\tconn\trequests\tpairs\n'
	cat "$WORK/manifest"
} >"$WORK/out/MANIFEST"

# Every case succeeded: replace the generated files, leave others alone.
mkdir -p "$OUT"
rm -f "$OUT"/*.bin "$OUT"/*.expect "$OUT"/MANIFEST
cp "$WORK"/out/*.bin "$WORK"/out/*.expect "$WORK/out/MANIFEST" "$OUT"/
echo "capture-fixtures: $(wc -l <"$WORK/manifest") connections written to" \
	"${OUT#"$ROOT"/} in $((SECONDS - START)) s" >&2
