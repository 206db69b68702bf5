#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Real Kafka clients as the end-to-end scenarios drive them.

One function per (library, operation); each returns what the client itself reported,
with Kafka error codes by name ("TOPIC_AUTHORIZATION_FAILED"), so a scenario can tell an
authorization error from a timeout ("TIMEOUT") or a dropped connection. Libraries:

  kcat       kcat 1.7.1 (librdkafka 2.0.2) through subprocess
  confluent  confluent_kafka (Debian's python3-confluent-kafka)
  kpy        kafka-python (Debian's python3-kafka)
  raw        hand-built requests on one TCP connection: Produce with several topics in
             one request, CreateTopics and DeleteTopics (the mock has no controller, so
             no client library sends those to it), and "same connection" proofs

Run as a CLI inside a client namespace, one JSON object on stdout:

  clients.py LIB OP --bootstrap HOST:PORT [options]
    produce   --msg TOPIC=VALUE ...      one client, messages in order, each flushed
    batch     --msg TOPIC=VALUE ...      all messages in one Produce request
    consume   --topic T [--count N]      from the beginning of partition 0
    commit    --group G --topic T [--offset N]
    create    --topic T ...              (raw)
    delete    --topic T ...              (raw)
  common: --timeout S, --client-id ID, --sasl MECH:USER:PASSWORD

Always use /usr/bin/python3 (Debian's modules).
"""
import argparse
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time

# ---- error names ----------------------------------------------------------

_BY_CODE = {}
_BY_RDSTR = {}


def _tables():
    if _BY_CODE:
        return
    import kafka.errors as ke
    for obj in vars(ke).values():
        if isinstance(obj, type) and issubclass(obj, ke.BrokerResponseError) and \
                getattr(obj, "errno", None) is not None:
            _BY_CODE[obj.errno] = obj.message
    try:
        from confluent_kafka import KafkaError
        for code in list(range(-199, -100)) + list(range(0, 120)):
            try:
                e = KafkaError(code)
                _BY_RDSTR[e.str()] = e.name()
            except Exception:
                pass
    except ImportError:
        pass


def err_name(code):
    """Kafka error code -> name (None for 0)."""
    _tables()
    if code == 0:
        return None
    return _BY_CODE.get(code, "ERROR_%d" % code)


def kpy_err(exc):
    """kafka-python exception -> name."""
    import kafka.errors as ke
    if isinstance(exc, ke.KafkaTimeoutError):
        return "TIMEOUT"
    if isinstance(exc, ke.BrokerResponseError) or getattr(exc, "errno", None) is not None:
        return getattr(exc, "message", type(exc).__name__)
    if isinstance(exc, ke.NoBrokersAvailable):
        return "NO_BROKERS"
    return type(exc).__name__


def rd_err(kerr):
    """confluent_kafka KafkaError -> name; librdkafka's local timeouts -> TIMEOUT."""
    name = kerr.name()
    if name in ("_MSG_TIMED_OUT", "_TIMED_OUT", "REQUEST_TIMED_OUT"):
        return "TIMEOUT"
    return name.lstrip("_") if name.startswith("_") else name


def kcat_errs(stderr):
    """Error names in kcat's stderr ("Broker: Topic authorization failed")."""
    _tables()
    names = []
    for s, n in _BY_RDSTR.items():
        if s and s in stderr:
            names.append(rd_name(n))
    if "timed out" in stderr.lower() and "TIMEOUT" not in names:
        names.append("TIMEOUT")
    return sorted(set(names))


def rd_name(n):
    if n in ("_MSG_TIMED_OUT", "_TIMED_OUT", "REQUEST_TIMED_OUT"):
        return "TIMEOUT"
    return n.lstrip("_")


# ---- common options -------------------------------------------------------

def _sasl(a):
    """--sasl MECH:USER:PASSWORD as (mechanism, user, password), or None without it."""
    return a.sasl.split(":", 2) if a.sasl else None


def rd_conf(a):
    """librdkafka's configuration (confluent-kafka; kcat takes the same keys)."""
    c = {"bootstrap.servers": a.bootstrap, "client.id": a.client_id,
         "socket.timeout.ms": int(a.timeout * 1000),
         "topic.metadata.refresh.interval.ms": 60000}
    if a.sasl:
        c.update(zip(("sasl.mechanisms", "sasl.username", "sasl.password"), _sasl(a)),
                 **{"security.protocol": "SASL_PLAINTEXT"})
    return c


def kpy_conf(a):
    c = {"bootstrap_servers": a.bootstrap, "client_id": a.client_id,
         "request_timeout_ms": int(a.timeout * 1000) + 1000,
         "api_version_auto_timeout_ms": int(a.timeout * 1000)}
    if a.sasl:
        c.update(zip(("sasl_mechanism", "sasl_plain_username", "sasl_plain_password"),
                     _sasl(a)), security_protocol="SASL_PLAINTEXT")
    return c


def kcat_args(a):
    args = ["kcat", "-b", a.bootstrap, "-X", "client.id=" + a.client_id]
    if a.sasl:
        for k in ("security.protocol", "sasl.mechanisms", "sasl.username", "sasl.password"):
            args += ["-X", "%s=%s" % (k, rd_conf(a)[k])]
    return args


def parse_msgs(a):
    out = []
    for m in a.msg or []:
        t, _, v = m.partition("=")
        out.append((t, v))
    return out


# ---- produce --------------------------------------------------------------

def produce_kcat(a, msgs):
    results = []
    for t, v in msgs:
        p = subprocess.run(kcat_args(a) + ["-P", "-t", t, "-p", "0", "-X",
                                           "message.timeout.ms=%d" % int(a.timeout * 1000)],
                           input=(v + "\n").encode(), capture_output=True,
                           timeout=a.timeout + 15)
        err = p.stderr.decode(errors="replace")
        names = kcat_errs(err)
        results.append({"topic": t, "error": (names[0] if names else
                                              (None if p.returncode == 0 else "EXIT_%d" %
                                               p.returncode)),
                        "stderr": err[-400:]})
    return {"results": results}


def produce_confluent(a, msgs, one_request=False):
    from confluent_kafka import Producer
    results, transport = [], []
    c = rd_conf(a)
    c.update({"message.timeout.ms": int(a.timeout * 1000), "acks": "all",
              "error_cb": lambda e: transport.append(rd_err(e))})
    if one_request:
        c["linger.ms"] = 200
    p = Producer(c)
    if one_request:
        # learn every topic's leader first, so the batches leave together
        for t in sorted({t for t, _ in msgs}):
            try:
                p.list_topics(t, timeout=a.timeout)
            except Exception:
                pass

    def report(idx):
        def cb(err, msg):
            results[idx].update({"error": rd_err(err) if err else None,
                                 "offset": None if err else msg.offset()})
        return cb
    for i, (t, v) in enumerate(msgs):
        results.append({"topic": t, "error": "NO_REPORT"})
        p.produce(t, value=v.encode(), partition=0, on_delivery=report(i))
        if not one_request:
            p.flush(a.timeout + 5)
    p.flush(a.timeout + 5)
    return {"results": results, "transport_errors": sorted(set(transport))}


def produce_kpy(a, msgs, one_request=False):
    from kafka import KafkaProducer
    import kafka.errors as ke
    c = kpy_conf(a)
    c.update({"acks": "all", "max_block_ms": int(a.timeout * 1000), "retries": 0})
    if one_request:
        c["linger_ms"] = 200
    results = []
    try:
        p = KafkaProducer(**c)
    except Exception as e:  # no connection at all
        return {"results": [{"topic": t, "error": kpy_err(e)} for t, _ in msgs]}
    futs = []
    for t, v in msgs:
        try:
            futs.append((t, p.send(t, value=v.encode(), partition=0)))
        except Exception as e:
            futs.append((t, e))
        if not one_request:
            results.append(_kpy_wait(*futs.pop(), a.timeout))
    for t, f in futs:
        results.append(_kpy_wait(t, f, a.timeout))
    try:
        p.close(timeout=2)
    except ke.KafkaError:
        pass
    return {"results": results}


def _kpy_wait(t, f, timeout):
    if isinstance(f, Exception):
        return {"topic": t, "error": kpy_err(f)}
    try:
        md = f.get(timeout=timeout + 2)
        return {"topic": t, "error": None, "offset": md.offset}
    except Exception as e:
        return {"topic": t, "error": kpy_err(e)}


# ---- consume --------------------------------------------------------------

def consume_kcat(a):
    p = subprocess.run(kcat_args(a) + ["-C", "-t", a.topic[0], "-p", "0", "-o", "beginning",
                                       "-c", str(a.count), "-e", "-f", "%s\n", "-q"],
                       capture_output=True, timeout=a.timeout + 15)
    err = p.stderr.decode(errors="replace")
    recs = p.stdout.decode(errors="replace").splitlines()
    names = kcat_errs(err)
    return {"records": recs, "error": names[0] if names else None, "stderr": err[-400:]}


def consume_confluent(a):
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
    c = rd_conf(a)
    c.update({"group.id": a.group or "kgate-e2e-reader", "enable.auto.commit": False,
              "enable.partition.eof": True})
    k = Consumer(c)
    k.assign([TopicPartition(a.topic[0], 0, OFFSET_BEGINNING)])
    recs, error, end = [], None, time.time() + a.timeout
    while time.time() < end and len(recs) < a.count:
        m = k.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().name() == "_PARTITION_EOF":
                break
            error = rd_err(m.error())
            break
        recs.append(m.value().decode(errors="replace"))
    k.close()
    if error is None and len(recs) < a.count and time.time() >= end:
        error = "TIMEOUT"
    return {"records": recs, "error": error}


def consume_kpy(a):
    from kafka import KafkaConsumer, TopicPartition
    c = kpy_conf(a)
    c.update({"group_id": None, "auto_offset_reset": "earliest",
              "enable_auto_commit": False})
    recs, error = [], None
    try:
        k = KafkaConsumer(**c)
        tp = TopicPartition(a.topic[0], 0)
        k.assign([tp])
        k.seek_to_beginning(tp)
        end = time.time() + a.timeout
        while time.time() < end and len(recs) < a.count:
            for batch in k.poll(timeout_ms=500).values():
                recs += [r.value.decode(errors="replace") for r in batch]
        k.close()
        if len(recs) < a.count:
            error = "TIMEOUT"
    except Exception as e:
        error = kpy_err(e)
    return {"records": recs, "error": error}


# ---- commit ---------------------------------------------------------------

def commit_confluent(a):
    from confluent_kafka import Consumer, TopicPartition, KafkaException
    c = rd_conf(a)
    c.update({"group.id": a.group, "enable.auto.commit": False})
    k = Consumer(c)
    tp = TopicPartition(a.topic[0], 0, a.offset)
    error = None
    try:
        res = k.commit(offsets=[tp], asynchronous=False)
        for r in res or []:
            if r.error:
                error = rd_err(r.error)
    except KafkaException as e:
        error = rd_err(e.args[0])
    k.close()
    return {"error": error}


def commit_kpy(a):
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata
    import threading
    c = kpy_conf(a)
    # a group member's requests must outlast its session
    c.update({"group_id": a.group, "enable_auto_commit": False, "session_timeout_ms": 6000,
              "request_timeout_ms": max(7000, int(a.timeout * 1000) + 1000)})
    res = {"error": "TIMEOUT"}

    def go():
        try:
            k = KafkaConsumer(**c)
            tp = TopicPartition(a.topic[0], 0)
            k.assign([tp])
            k.commit({tp: OffsetAndMetadata(a.offset, "")})
            res["error"] = None
        except Exception as e:
            res["error"] = kpy_err(e)
    # commit() retries retriable errors forever; the scenario wants an answer
    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(a.timeout + 5)
    return dict(res)


# ---- raw requests -----------------------------------------------------------

API_PRODUCE, API_CREATE_TOPICS, API_DELETE_TOPICS = 0, 19, 20


def _str(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def _str_at(data, off):
    """The string (int16 length, then bytes) at off in a response: (text, offset after)."""
    (n,) = struct.unpack_from(">h", data, off)
    return data[off + 2:off + 2 + n].decode(errors="replace"), off + 2 + n


def _topics(data, entry):
    """A response's topic array from its start: entry(topic, offset after the name)
    returns (its results, the offset after it); all the results, in order."""
    off, out = 4, []
    for _ in range(struct.unpack_from(">i", data, 0)[0]):
        t, off = _str_at(data, off)
        got, off = entry(t, off)
        out += got
    return out


class Raw:
    """One TCP connection; requests in order; responses read whole."""

    def __init__(self, bootstrap, client_id, timeout):
        host, _, port = bootstrap.rpartition(":")
        self.s = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
        self.client_id, self.corr = client_id, 0

    def call(self, key, ver, body):
        self.corr += 1
        hdr = struct.pack(">hhi", key, ver, self.corr) + _str(self.client_id)
        msg = hdr + body
        self.s.sendall(struct.pack(">i", len(msg)) + msg)
        size = struct.unpack(">i", self._read(4))[0]
        data = self._read(size)
        corr = struct.unpack(">i", data[:4])[0]
        if corr != self.corr:
            raise RuntimeError("correlation id %d, expected %d" % (corr, self.corr))
        return data[4:]

    def _read(self, n):
        b = b""
        while len(b) < n:
            c = self.s.recv(n - len(b))
            if not c:
                raise ConnectionResetError("connection closed by peer")
            b += c
        return b


def _raw_error(e):
    if isinstance(e, socket.timeout):
        return "TIMEOUT"
    if isinstance(e, (ConnectionResetError, BrokenPipeError)):
        return "CONNECTION_RESET"
    return type(e).__name__


def _batch(value):
    from kafka.record.memory_records import MemoryRecordsBuilder
    b = MemoryRecordsBuilder(magic=2, compression_type=0, batch_size=1 << 20)
    b.append(int(time.time() * 1000), None, value.encode())
    b.close()
    return b.buffer()


def raw_produce_body(msgs, timeout_ms):
    """Produce v3: every (topic, value) of msgs in one request, partition 0."""
    by_topic = {}
    for t, v in msgs:
        by_topic.setdefault(t, []).append(v)
    # transactional_id (null), acks (all), timeout, topic count
    body = struct.pack(">hhii", -1, -1, timeout_ms, len(by_topic))
    for t, vals in by_topic.items():
        recs = _batch(vals[0])
        body += _str(t) + struct.pack(">i", 1) + struct.pack(">i", 0) + \
            struct.pack(">i", len(recs)) + recs
    return body


def parse_produce_v3(data):
    """Each partition's result of a Produce v3 response body (after the correlation id)."""
    def partitions(t, off):
        out = []
        for i in range(struct.unpack_from(">i", data, off)[0]):
            # partition, error, base offset, log append time
            p, err, base = struct.unpack_from(">ihq", data, off + 4 + i * 22)
            out.append({"topic": t, "error": err_name(err), "offset": base})
        return out, off + 4 + len(out) * 22
    return _topics(data, partitions)


def produce_raw(a, msgs, one_request=True):
    """All msgs in one Produce request (one_request) or one request each, on ONE
    connection; a later allowed request succeeding proves the connection stayed up."""
    try:
        r = Raw(a.bootstrap, a.client_id, a.timeout)
    except OSError as e:
        return {"results": [{"topic": t, "error": _raw_error(e)} for t, _ in msgs]}
    groups = [msgs] if one_request else [[m] for m in msgs]
    results = []
    for g in groups:
        try:
            results += parse_produce_v3(r.call(API_PRODUCE, 3,
                                               raw_produce_body(g, int(a.timeout * 1000))))
        except Exception as e:
            results += [{"topic": t, "error": _raw_error(e)} for t, _ in g]
            break
    return {"results": results, "connections": 1}


def admin_raw(a, key):
    """CreateTopics v0 / DeleteTopics v0 for every --topic, one request."""
    ts = a.topic
    if key == API_CREATE_TOPICS:
        body = struct.pack(">i", len(ts)) + b"".join(
            _str(t) + struct.pack(">ihii", 1, 1, 0, 0) for t in ts) + \
            struct.pack(">i", int(a.timeout * 1000))
    else:
        body = struct.pack(">i", len(ts)) + b"".join(_str(t) for t in ts) + \
            struct.pack(">i", int(a.timeout * 1000))
    try:
        r = Raw(a.bootstrap, a.client_id, a.timeout)
        data = r.call(key, 0, body)
    except Exception as e:
        return {"results": [{"topic": t, "error": _raw_error(e)} for t in ts]}

    def error(t, off):
        return [{"topic": t, "error": err_name(struct.unpack_from(">h", data, off)[0])}], off + 2
    return {"results": _topics(data, error)}


API_OFFSET_COMMIT = 8


def commit_raw(a):
    """OffsetCommit v2 (simple consumer: generation -1, no member) for partition 0."""
    body = _str(a.group) + struct.pack(">i", -1) + _str("") + struct.pack(">q", -1) + \
        struct.pack(">i", 1) + _str(a.topic[0]) + struct.pack(">i", 1) + \
        struct.pack(">iq", 0, a.offset) + _str("")
    try:
        data = Raw(a.bootstrap, a.client_id, a.timeout).call(API_OFFSET_COMMIT, 2, body)
    except Exception as e:
        return {"error": _raw_error(e)}
    _, off = _str_at(data, 4)
    part, err = struct.unpack_from(">ih", data, off + 4)
    return {"error": err_name(err), "partition": part}


# ---- dispatch ---------------------------------------------------------------

def run(a):
    msgs = parse_msgs(a)
    table = {
        ("kcat", "produce"): lambda: produce_kcat(a, msgs),
        ("confluent", "produce"): lambda: produce_confluent(a, msgs),
        ("kpy", "produce"): lambda: produce_kpy(a, msgs),
        ("raw", "produce"): lambda: produce_raw(a, msgs, one_request=False),
        ("confluent", "batch"): lambda: produce_confluent(a, msgs, one_request=True),
        ("kpy", "batch"): lambda: produce_kpy(a, msgs, one_request=True),
        ("raw", "batch"): lambda: produce_raw(a, msgs, one_request=True),
        ("kcat", "consume"): lambda: consume_kcat(a),
        ("confluent", "consume"): lambda: consume_confluent(a),
        ("kpy", "consume"): lambda: consume_kpy(a),
        ("confluent", "commit"): lambda: commit_confluent(a),
        ("kpy", "commit"): lambda: commit_kpy(a),
        ("raw", "commit"): lambda: commit_raw(a),
        ("raw", "create"): lambda: admin_raw(a, API_CREATE_TOPICS),
        ("raw", "delete"): lambda: admin_raw(a, API_DELETE_TOPICS),
    }
    fn = table.get((a.lib, a.op))
    if not fn:
        return {"error": "UNSUPPORTED", "detail": "%s has no %s here" % (a.lib, a.op)}
    try:
        return fn()
    except subprocess.TimeoutExpired:
        return {"error": "TIMEOUT"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("lib", choices=["kcat", "confluent", "kpy", "raw"])
    ap.add_argument("op", choices=["produce", "batch", "consume", "commit", "create", "delete"])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--msg", action="append")
    ap.add_argument("--topic", action="append")
    ap.add_argument("--group")
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--client-id", default="kgate-e2e")
    ap.add_argument("--sasl")
    a = ap.parse_args(argv)
    # librdkafka's and kafka-python's log lines go to stderr; stdout stays one JSON.
    import logging
    logging.basicConfig(level=logging.CRITICAL)
    res = run(a)
    res.update({"lib": a.lib, "op": a.op})
    print(json.dumps(res))
    sys.stdout.flush()
    # kafka-python may leave threads behind on a dead connection
    os._exit(0)


if __name__ == "__main__":
    main()
