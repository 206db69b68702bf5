#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The deploy files say what the agent depends on.

Parses deploy/daemonset.yaml, deploy/Containerfile and the systemd units and checks the
fields kgate needs: the flags given to `kgate run` exist (in `build/kgate run --help`,
which is made from the command's option table), host network, capabilities, the
bpffs hostPath, the policy mounted from the ConfigMap (no subPath: it would never be
updated) with a reload path that ends in SIGHUP, the liveness probe on --metrics-addr's
port and /healthz, the node name from the downward API, the shipped policy passing
`kgate policy check --strict`, the runtime image carrying every library `ldd build/kgate`
lists, and the audit file's rotation: on a hostPath (DaemonSet) or under LogsDirectory
(systemd), rotated by deploy/logrotate/kgate by a move (never copytruncate) followed by
SIGUSR1, which `kgate run --help` says reopens it. Run with /usr/bin/python3
(python3-yaml). KGATE=path overrides build/kgate.
"""
import configparser
import os
import re
import shlex
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KGATE = os.environ.get("KGATE", os.path.join(ROOT, "build", "kgate"))
DEPLOY = os.path.join(ROOT, "deploy")

# what the deployments must pass for the agent to do its job on a node
REQUIRED_FLAGS = {"--iface", "--policy", "--audit-brokers", "--audit-topic", "--spool-dir",
                  "--metrics-addr", "--node"}
CAPS = {"BPF", "NET_ADMIN", "PERFMON", "SYS_RESOURCE"}
# what the DaemonSet says in place of an image: README "Kubernetes quickstart" says how to
# build and push one
PLACEHOLDER_IMAGE = "REGISTRY/kgate:VERSION"

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok   %s" % name)
    else:
        failed += 1
        print("FAIL %s%s" % (name, ": " + detail if detail else ""))


def run_flags():
    """The flags `kgate run --help` lists; exits (a failure) when it does not answer."""
    try:
        p = subprocess.run([KGATE, "run", "--help"], capture_output=True, text=True,
                           timeout=10)
    except OSError as e:
        sys.exit("FAIL kgate run --help: %s (build kgate first: make)" % e)
    flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", p.stdout))
    if p.returncode != 0 or "--iface" not in flags:
        sys.exit("FAIL kgate run --help: exit %d, no --iface in:\n%s" % (p.returncode, p.stdout))
    return flags | {"--help"}


def flag_values(args):
    """--flag VALUE / --flag=VALUE pairs of an argv list."""
    out, i = {}, 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            if "=" in a:
                k, v = a.split("=", 1)
                out.setdefault(k, []).append(v)
            elif i + 1 < len(args) and not args[i + 1].startswith("--"):
                out.setdefault(a, []).append(args[i + 1])
                i += 1
            else:
                out.setdefault(a, []).append(None)
        i += 1
    return out


def policy_check(text, what):
    if not os.access(KGATE, os.X_OK):
        print("skip %s: %s not built" % (what, KGATE))
        return
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(text)
        f.flush()
        p = subprocess.run([KGATE, "policy", "check", "--strict", f.name], capture_output=True,
                           text=True)
    check(what, p.returncode == 0, (p.stdout + p.stderr).strip())


def test_daemonset(flags):
    docs = list(yaml.safe_load_all(open(os.path.join(DEPLOY, "daemonset.yaml"))))
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    check("daemonset: one DaemonSet", len(by_kind.get("DaemonSet", [])) == 1)
    ds = by_kind["DaemonSet"][0]
    spec = ds["spec"]["template"]["spec"]
    check("daemonset: selector matches the pod labels",
          ds["spec"]["selector"]["matchLabels"].items() <=
          ds["spec"]["template"]["metadata"]["labels"].items())
    check("daemonset: hostNetwork (XDP/TC attach to the node's interfaces)",
          spec.get("hostNetwork") is True)
    cons = {c["name"]: c for c in spec["containers"]}
    agent = cons.get("kgate")
    check("daemonset: container 'kgate'", agent is not None)
    args = agent.get("command", [])[1:] + agent.get("args", [])
    check("daemonset: kgate run", args[:1] == ["run"], str(args[:1]))
    fv = flag_values(args[1:])
    unknown = sorted(set(fv) - flags)
    check("daemonset: every flag exists in kgate run", not unknown, "unknown: %s" % unknown)
    missing = sorted(REQUIRED_FLAGS - set(fv))
    check("daemonset: required flags given", not missing, "missing: %s" % missing)

    # $(VAR) references resolve to env vars of the container
    env = {e["name"]: e for e in agent.get("env", [])}
    refs = set(re.findall(r"\$\((\w+)\)", " ".join(args)))
    check("daemonset: every $(VAR) in args is in env", refs <= set(env),
          str(sorted(refs - set(env))))
    node = fv.get("--node", [None])[0] or ""
    m = re.fullmatch(r"\$\((\w+)\)", node)
    check("daemonset: --node from the downward API (spec.nodeName)",
          m is not None and env.get(m.group(1), {}).get("valueFrom", {})
          .get("fieldRef", {}).get("fieldPath") == "spec.nodeName", node)
    for e in env.values():
        ref = e.get("valueFrom", {}).get("configMapKeyRef")
        if ref:
            cms = {c["metadata"]["name"]: c for c in by_kind.get("ConfigMap", [])}
            check("daemonset: env %s -> ConfigMap %s key %s exists" %
                  (e["name"], ref["name"], ref["key"]),
                  ref["key"] in cms.get(ref["name"], {}).get("data", {}))

    # capabilities (or privileged)
    sc = agent.get("securityContext", {})
    caps = set(sc.get("capabilities", {}).get("add", []))
    check("daemonset: capabilities BPF, NET_ADMIN, PERFMON, SYS_RESOURCE (or privileged)",
          sc.get("privileged") is True or CAPS <= caps, str(sorted(caps)))

    # volumes and mounts
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in agent.get("volumeMounts", [])}

    def vol_at(path):
        """The volume and mount whose mountPath contains path."""
        best = None
        for mp, m in mounts.items():
            if path == mp or path.startswith(mp.rstrip("/") + "/"):
                if best is None or len(mp) > len(best[1]["mountPath"]):
                    best = (vols.get(m["name"]), m)
        return best or (None, None)
    v, m = vol_at("/sys/fs/bpf/kgate")
    check("daemonset: /sys/fs/bpf is the host's bpffs (hostPath)",
          v is not None and v.get("hostPath", {}).get("path") == "/sys/fs/bpf" and
          m["mountPath"] == "/sys/fs/bpf")
    check("daemonset: bpffs mount is not read-only", m is not None and not m.get("readOnly"))
    pol = fv.get("--policy", [""])[0]
    v, m = vol_at(pol)
    cmname = (v or {}).get("configMap", {}).get("name")
    check("daemonset: --policy %s is on a ConfigMap volume" % pol, cmname is not None)
    check("daemonset: policy mount has no subPath (subPath never sees updates)",
          m is not None and "subPath" not in m)
    key = os.path.relpath(pol, m["mountPath"]) if m else None
    cm = {c["metadata"]["name"]: c for c in by_kind.get("ConfigMap", [])}.get(cmname, {})
    check("daemonset: the policy file is a key of ConfigMap %s" % cmname,
          key in cm.get("data", {}), str(key))
    if key in cm.get("data", {}):
        policy_check(cm["data"][key],
                     "daemonset: the shipped policy passes kgate policy check --strict")
    for flag in ("--spool-dir", "--audit-file"):
        d = fv.get(flag, [""])[0]
        v, _ = vol_at(d)
        check("daemonset: %s %s is on a hostPath (survives restarts)" % (flag, d),
              v is not None and "hostPath" in v)
    v, _ = vol_at("/var/lib/kgate")
    check("daemonset: /var/lib/kgate (policy store) on a hostPath", v is not None and
          "hostPath" in v)

    # liveness from the metrics endpoint
    maddr = fv.get("--metrics-addr", [""])[0]
    host, _, port = maddr.rpartition(":")
    probe = agent.get("livenessProbe", {}).get("httpGet", {})
    check("daemonset: livenessProbe GET /healthz", probe.get("path") == "/healthz",
          str(probe))
    pport = probe.get("port")
    if isinstance(pport, str):
        pport = {p.get("name"): p["containerPort"] for p in agent.get("ports", [])}.get(pport)
    check("daemonset: probe port = --metrics-addr port (%s)" % port,
          str(pport) == port, "probe %s" % pport)
    # kubelet probes the pod IP (the node's, with hostNetwork) unless host is set
    check("daemonset: --metrics-addr reachable by the probe",
          host in ("0.0.0.0", "[::]", "::") or probe.get("host") == host,
          "%s vs probe host %s" % (host, probe.get("host")))

    # reload on change: a container that watches the same ConfigMap and signals the agent
    reloaders = [c for n, c in cons.items() if n != "kgate"]
    ok = False
    for c in reloaders:
        script = " ".join(c.get("command", []) + c.get("args", []))
        sees = any(vols.get(mm["name"], {}).get("configMap", {}).get("name") == cmname and
                   "subPath" not in mm for mm in c.get("volumeMounts", []))
        if sees and re.search(r"kill\s+-(HUP|s\s+HUP|1)\b", script):
            ok = True
            check("daemonset: reloader checks the policy (--strict) before signalling",
                  "policy check --strict" in script)
    check("daemonset: a sidecar sees ConfigMap updates and sends SIGHUP", ok)
    check("daemonset: shareProcessNamespace (the sidecar can signal the agent)",
          not reloaders or spec.get("shareProcessNamespace") is True)

    # kgate's image is published nowhere: every container names the same placeholder,
    # which does not parse as an image reference (upper case), so nothing runs until the
    # user puts the image they built and pushed there
    images = {c.get("image") for c in spec["containers"]}
    check("daemonset: every container's image is the placeholder REGISTRY/kgate:VERSION",
          images == {PLACEHOLDER_IMAGE}, str(images))


def test_systemd(flags):
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    path = os.path.join(DEPLOY, "kgate.service")
    cp.read(path)
    svc = cp["Service"]
    start = shlex.split(svc["ExecStart"].replace("\\\n", " "))
    check("systemd: ExecStart is kgate run", start[1:2] == ["run"], str(start[:2]))
    fv = flag_values(start[2:])
    unknown = sorted(set(fv) - flags)
    check("systemd: every flag exists in kgate run", not unknown, "unknown: %s" % unknown)
    missing = sorted(REQUIRED_FLAGS - set(fv))
    check("systemd: required flags given", not missing, "missing: %s" % missing)
    check("systemd: reload sends SIGHUP", re.search(r"kill\s+-HUP\s+\$MAINPID",
                                                    svc.get("ExecReload", "")) is not None)
    caps = set(c.replace("CAP_", "") for c in svc.get("CapabilityBoundingSet", "").split())
    check("systemd: capability bounding set holds BPF, NET_ADMIN, PERFMON, SYS_RESOURCE",
          CAPS <= caps, str(sorted(caps)))
    check("systemd: needs /sys/fs/bpf mounted",
          "/sys/fs/bpf" in cp["Unit"].get("RequiresMountsFor", ""))
    check("systemd: /sys/fs/bpf writable under ProtectSystem=strict",
          svc.get("ProtectSystem") != "strict" or "/sys/fs/bpf" in svc.get("ReadWritePaths", ""))
    spool = fv.get("--spool-dir", [""])[0]
    check("systemd: spool under StateDirectory (/var/lib/%s)" % svc.get("StateDirectory"),
          spool.startswith("/var/lib/%s/" % svc.get("StateDirectory", "-")))
    check("systemd: the state dir (policy store and its lock) is 0750: no other user reaches it",
          svc.get("StateDirectoryMode") == "0750", svc.get("StateDirectoryMode"))
    check("systemd: restarts on failure", svc.get("Restart") in ("on-failure", "always"))
    audit = fv.get("--audit-file", [""])[0]
    check("systemd: --audit-file under LogsDirectory (/var/log/%s)" % svc.get("LogsDirectory"),
          audit.startswith("/var/log/%s/" % svc.get("LogsDirectory", "-")), audit)
    pth = configparser.ConfigParser(strict=False, interpolation=None)
    pth.optionxform = str
    pth.read(os.path.join(DEPLOY, "kgate-policy.path"))
    # configparser keeps one of several Environment= lines; read them all
    env = dict(e.split("=", 1) for e in
               re.findall(r"^Environment=(\S+)$", open(path).read(), re.M))
    check("systemd: kgate-policy.path watches the policy kgate runs with",
          pth["Path"].get("PathChanged") == env.get("KGATE_POLICY"),
          "%s vs %s" % (pth["Path"].get("PathChanged"), env.get("KGATE_POLICY")))
    if subprocess.run(["which", "systemd-analyze"], capture_output=True).returncode == 0:
        p = subprocess.run(["systemd-analyze", "verify", path,
                            os.path.join(DEPLOY, "kgate-policy.path"),
                            os.path.join(DEPLOY, "kgate-policy-reload.service")],
                           capture_output=True, text=True)
        # the binary is not installed here; anything else is an error in the units
        errs = [l for l in (p.stdout + p.stderr).splitlines()
                if l.strip() and "is not executable" not in l]
        check("systemd: systemd-analyze verify", not errs, "; ".join(errs))


def test_logrotate(flags):
    """deploy/logrotate/kgate rotates the file both deployments write, by a move."""
    path = os.path.join(DEPLOY, "logrotate", "kgate")
    text = open(path).read()
    body = re.sub(r"#.*", "", text)
    m = re.search(r"^(\S+)\s*\{(.*)\}", body, re.M | re.S)
    check("logrotate: one stanza", m is not None)
    if not m:
        return
    target, conf = m.group(1), m.group(2)
    words = set(re.findall(r"^\s*(\w+)", conf, re.M))
    unit = open(os.path.join(DEPLOY, "kgate.service")).read()
    ds = open(os.path.join(DEPLOY, "daemonset.yaml")).read()
    check("logrotate: the audit file of the systemd unit and of the DaemonSet",
          "--audit-file %s" % target in unit and
          re.search(r"- --audit-file\s*\n\s*- %s\s*$" % re.escape(target), ds, re.M),
          target)
    check("logrotate: moves the file (no copytruncate)",
          "copytruncate" not in words and "nocopytruncate" in words, str(sorted(words)))
    check("logrotate: a compressed file is never the one still being written (delaycompress)",
          "compress" not in words or "delaycompress" in words)
    check("logrotate: postrotate sends SIGUSR1 to the agent's main process",
          re.search(r"postrotate\s+systemctl kill --signal=USR1 --kill-whom=main kgate.service",
                    conf) is not None)
    p = subprocess.run([KGATE, "run", "--help"], capture_output=True, text=True)
    check("logrotate: kgate run --help says SIGUSR1 reopens the audit file",
          "SIGUSR1 reopens --audit-file" in p.stdout)
    if subprocess.run(["which", "logrotate"], capture_output=True).returncode == 0:
        with tempfile.TemporaryDirectory() as d:
            p = subprocess.run(["logrotate", "-d", "-s", os.path.join(d, "state"), path],
                               capture_output=True, text=True)
        errs = [l for l in (p.stdout + p.stderr).splitlines() if l.startswith("error")]
        check("logrotate: logrotate -d reads it without an error", p.returncode == 0 and
              not errs, "; ".join(errs))
    else:
        print("skip logrotate -d: logrotate is not installed")


def test_containerfile():
    text = open(os.path.join(DEPLOY, "Containerfile")).read()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    check("containerfile: Debian 12 stages", froms and
          all(re.match(r"debian:(12|bookworm)", f) for f in froms), str(froms))
    check("containerfile: builds kgate with make", re.search(r"^RUN .*\bmake\b", text, re.M)
          is not None)
    check("containerfile: kgate installed at /usr/local/bin/kgate",
          "/usr/local/bin/kgate" in text)
    runtime = text[text.rfind("FROM "):]
    # every COPY from the build context names something the repository has
    srcs = [w for line in re.findall(r"^COPY\s+(?!--from)(.+)$", text, re.M)
            for w in line.split()[:-1]]
    missing = [w for w in srcs if not os.path.exists(os.path.join(ROOT, w))]
    check("containerfile: every COPY source exists in the repository", srcs and not missing,
          "missing: %s" % missing)
    build_stage(text)
    if not os.access(KGATE, os.X_OK):
        print("skip containerfile: runtime libraries (%s not built)" % KGATE)
        return
    ldd = subprocess.run(["ldd", KGATE], capture_output=True, text=True).stdout
    libs = re.findall(r"=>\s+(\S+)", ldd)
    missing = []
    for lib in libs:
        p = subprocess.run(["dpkg", "-S", os.path.realpath(lib)], capture_output=True,
                           text=True)
        if p.returncode:
            p = subprocess.run(["dpkg", "-S", lib], capture_output=True, text=True)
        pkg = p.stdout.split(":")[0].strip() if p.returncode == 0 else None
        # libc6 and what every Debian image has
        if pkg is None or pkg in ("libc6", "libgcc-s1", "libstdc++6", "libzstd1", "liblzma5",
                                  "libssl3", "libsasl2-2", "liblz4-1", "libcurl4",
                                  "libgssapi-krb5-2", "libkrb5-3", "libk5crypto3",
                                  "libcom-err2", "libkrb5support0", "libkeyutils1",
                                  "libdb5.3", "libnghttp2-14", "libidn2-0", "librtmp1",
                                  "libssh2-1", "libpsl5", "libldap-2.5-0", "libbrotli1",
                                  "libunistring2", "libgnutls30", "libhogweed6",
                                  "libnettle8", "libgmp10", "libp11-kit0", "libtasn1-6",
                                  "libffi8", "libcrypt1"):
            continue
        if not re.search(r"\b%s\b" % re.escape(pkg), runtime):
            missing.append("%s (%s)" % (pkg, os.path.basename(lib)))
    check("containerfile: runtime stage installs every library kgate links", not missing,
          "missing: %s" % missing)


def build_stage(text):
    """The build stage's context is enough: what its COPY lines bring, without .git,
    builds kgate with the stage's make command, and the binary reports the VERSION file."""
    stage = text[:text.rfind("FROM ")]
    copies = [line.split() for line in re.findall(r"^COPY\s+(.+)$", stage, re.M)]
    run = re.findall(r"^RUN (make .*)$", stage, re.M)
    if not run or os.environ.get("KGATE_DEPLOY_SKIP_BUILD"):
        print("skip containerfile: build stage")
        return
    with tempfile.TemporaryDirectory() as ctx:
        for words in copies:
            srcs, dest = words[:-1], os.path.join(ctx, words[-1])
            # COPY A B ./ puts A and B in the directory; COPY agent ./agent names the copy
            into_dir = len(srcs) > 1 or words[-1].endswith("/")
            os.makedirs(dest if into_dir else os.path.dirname(dest), exist_ok=True)
            for w in srcs:
                subprocess.run(["cp", "-a", os.path.join(ROOT, w),
                                os.path.join(dest, os.path.basename(w)) if into_dir else dest],
                               check=True)
        out = os.path.join(ctx, "out")
        cmd = run[0].replace("/out", out).replace('"$KGATE_COMMIT"', "test-commit")
        p = subprocess.run(["bash", "-c", "%s -j2 >build.log 2>&1" % cmd], cwd=ctx)
        log = open(os.path.join(ctx, "build.log")).read()
        check("containerfile: the build stage's context alone builds kgate (%s)" % cmd,
              p.returncode == 0 and os.access(os.path.join(out, "kgate"), os.X_OK),
              log[-2000:])
        if p.returncode == 0:
            v = subprocess.run([os.path.join(out, "kgate"), "version", "-o", "json"],
                               capture_output=True, text=True).stdout
            want = open(os.path.join(ROOT, "VERSION")).read().strip()
            check("containerfile: that kgate says the VERSION file's version and the commit "
                  "given", '"version":"%s","commit":"test-commit"' % want in v, v)


def main():
    flags = run_flags()
    print("kgate run flags from kgate run --help: %s" % " ".join(sorted(flags)))
    test_daemonset(flags)
    test_systemd(flags)
    test_logrotate(flags)
    test_containerfile()
    print("deploy: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
