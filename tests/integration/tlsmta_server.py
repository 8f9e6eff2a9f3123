"""A real tlsmta daemon under test: config, start, stop, Maildir watching.

Each TlsmtaServer owns a work directory (config, spool, Maildir root, the
server's stderr log). It runs `tlsmta serve -f -c FILE` in its own process
group so that the whole daemon (listener process and queue-manager child)
can be signalled at once, on free ports of 127.0.0.1. Nothing here talks
DNS: every address is an IP literal, and [outbound] dns_resolver is
NO_DNS (a dead loopback port) unless the test names its own DNS server.

At stop() the server gets SIGTERM; the stderr log is then scanned for
AddressSanitizer / UndefinedBehaviorSanitizer reports (the tests run the
sanitizer build), which the fixture in conftest.py turns into a failure.
"""

import errno
import os
import signal
import socket
import subprocess
import time

HOST = "127.0.0.1"
DOMAIN = "example.test"
OTHER_LOCAL_DOMAIN = "example.net"
HOSTNAME = "mail.example.test"

# Listener name -> tls mode; every server gets all four.
LISTENERS = {
    "mx": "starttls",
    "submissions": "implicit",
    "submission": "starttls-required",
    "plain": "none",
}

SANITIZER_MARKERS = ("Sanitizer", "runtime error:")
START_TIMEOUT = 20.0     # seconds for the listeners to accept (ASan start-up)
STOP_TIMEOUT = 15.0      # seconds for SIGTERM to end the process group
# [outbound] dns_resolver unless a test gives one: a loopback port where
# nothing answers, so mail a test relays never makes the queue manager ask
# the system resolver (/etc/resolv.conf may name a server off this host).
NO_DNS = "127.0.0.1@9"


def free_ports(count):
    """Return count distinct TCP ports of 127.0.0.1 free right now.

    All sockets stay bound until every port is picked, so the ports are
    distinct; the kernel will not hand them out again at once."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _proc_stat(pid):
    """(state, ppid, pgrp) of a live pid from /proc, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()
    return fields[0].decode(), int(fields[1]), int(fields[2])


def processes_of(pgid, root_pid):
    """Live (non-zombie) pids in process group pgid or descending from
    root_pid, found by walking /proc (no psutil)."""
    stats = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _proc_stat(int(name))
            if st is not None and st[0] != "Z":
                stats[int(name)] = st
    found = {pid for pid, st in stats.items() if st[2] == pgid}
    if root_pid in stats:
        found.add(root_pid)
    grew = True
    while grew:
        grew = False
        for pid, st in stats.items():
            if st[1] in found and pid not in found:
                found.add(pid)
                grew = True
    return found


class TlsmtaServer:
    """One tlsmta instance with its own spool and Maildir root."""

    def __init__(self, binary, workdir, certs, settings=None, extra="",
                 spool=None, maildir=None, listeners=None,
                 listener_options=None, tls_options=None, sections=None,
                 domains=None, listener_addrs=None):
        self.binary = str(binary)
        self.workdir = str(workdir)
        self.certs = certs
        os.makedirs(self.workdir, exist_ok=True)
        self.spool = spool or os.path.join(self.workdir, "spool")
        self.mail_root = os.path.join(self.workdir, "mail")
        self.maildir_template = maildir or os.path.join(self.mail_root,
                                                        "%d", "%u")
        self.settings = dict(settings or {})
        self.extra = extra
        self.listener_modes = dict(listeners or LISTENERS)
        # Extra keys: {listener: {key: value}} in [listen NAME],
        # {key: value} in [tls], {section: {key: value}} as new sections
        # (e.g. {"auth": {"sasldb_path": ...}}).
        self.listener_options = {k: dict(v) for k, v in
                                 (listener_options or {}).items()}
        self.tls_options = dict(tls_options or {})
        self.sections = {k: dict(v) for k, v in (sections or {}).items()}
        # local_domains (default DOMAIN and OTHER_LOCAL_DOMAIN), and
        # fixed "IP:port" addresses for some listeners instead of a free
        # port of HOST (e.g. {"submissions": "127.0.5.5:465"}).
        self.domains = list(domains or (DOMAIN, OTHER_LOCAL_DOMAIN))
        self.listener_addrs = dict(listener_addrs or {})
        self.ports = {}
        self.proc = None
        self.generation = 0
        self.log_path = None
        self.logs = []          # every log file this object started
        self.config_path = os.path.join(self.workdir, "tlsmta.conf")

    # -- configuration -------------------------------------------------

    def config_text(self):
        """The INI text for the current settings and ports."""
        lines = [
            "# written by tests/integration/tlsmta_server.py",
            f"hostname = {HOSTNAME}",
            f"spool = {self.spool}",
            f"local_domains = {' '.join(self.domains)}",
            f"maildir = {self.maildir_template}",
        ]
        lines += [f"{k} = {v}" for k, v in self.settings.items()]
        lines += ["", "[tls]"]
        for kind in ("ecdsa", "rsa"):
            lines.append(f"cert = {self.certs[kind + '_cert']}")
            lines.append(f"key = {self.certs[kind + '_key']}")
        lines.append("min_version = TLSv1.2")
        lines += _keys(self.tls_options)
        for name, mode in self.listener_modes.items():
            host, port = self.addr(name)
            lines += ["", f"[listen {name}]",
                      f"address = {host}:{port}",
                      f"tls = {mode}"]
            lines += _keys(self.listener_options.get(name, {}))
        sections = dict(self.sections)
        sections["outbound"] = dict(sections.get("outbound", {}))
        sections["outbound"].setdefault("dns_resolver", NO_DNS)
        for section, keys in sections.items():
            lines += ["", f"[{section}]"] + _keys(keys)
        return "\n".join(lines) + "\n" + self.extra

    def write_config(self):
        """Write the config file; picks ports first if none are set yet
        (for `tlsmta user add -c FILE` before the first start)."""
        if not self.ports:
            self.ports = dict(zip(self.listener_modes,
                                  free_ports(len(self.listener_modes))))
        with open(self.config_path, "w") as f:
            f.write(self.config_text())
        return self.config_path

    # -- life cycle ----------------------------------------------------

    def addr(self, listener="mx"):
        fixed = self.listener_addrs.get(listener)
        if fixed is not None:
            host, _, port = fixed.rpartition(":")
            return (host, int(port))
        return (HOST, self.ports[listener])

    def start(self, attempts=3):
        """Start on fresh free ports and wait until every listener accepts.
        Retries with other ports if a port was taken in the meantime."""
        last = None
        for _ in range(attempts):
            self.ports = dict(zip(self.listener_modes,
                                  free_ports(len(self.listener_modes))))
            self.write_config()
            try:
                self._spawn()
                self._wait_ready()
                return self
            except ServerDied as e:
                last = e
                if "in use" not in str(e).lower():
                    raise
        raise last

    def _spawn(self):
        self.generation += 1
        self.log_path = os.path.join(self.workdir,
                                     f"tlsmta.{self.generation}.log")
        self.logs.append(self.log_path)
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [self.binary, "serve", "-f", "-c", self.config_path],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True, env=env)

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        pending = {self.addr(name) for name in self.listener_modes}
        while pending:
            if self.proc.poll() is not None:
                raise ServerDied(f"tlsmta exited with {self.proc.returncode}"
                                 f" during start-up:\n{self.log()}")
            if time.monotonic() > deadline:
                raise ServerDied(f"tlsmta listeners not ready after "
                                 f"{START_TIMEOUT}s:\n{self.log()}")
            for addr in list(pending):
                try:
                    socket.create_connection(addr, timeout=1).close()
                    pending.discard(addr)
                except OSError:
                    pass
            if pending:
                time.sleep(0.05)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def pids(self):
        """The live processes of this server (listener and queue manager)."""
        if self.proc is None:
            return set()
        return processes_of(self.proc.pid, self.proc.pid)

    def kill9(self):
        """SIGKILL the whole server at once: process group first (no delay
        after the caller's last reply), then any child that left it."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=STOP_TIMEOUT)
        self._wait_group_gone(STOP_TIMEOUT)

    def stop(self):
        """SIGTERM, wait for every process of the server to end. Returns a
        list of problems (did not stop in time, exit status) - empty if
        the shutdown was clean."""
        problems = []
        if self.proc is None:
            return problems
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                problems.append(f"tlsmta did not exit {STOP_TIMEOUT}s "
                                "after SIGTERM")
                self.kill9()
            else:
                rc = self.proc.returncode
                if rc not in (0, -signal.SIGTERM):
                    problems.append(f"tlsmta exited with {rc} on SIGTERM")
        if not self._wait_group_gone(STOP_TIMEOUT):
            problems.append("a tlsmta child outlived the server: "
                            f"{sorted(self.pids())}")
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        return problems

    def _wait_group_gone(self, timeout):
        deadline = time.monotonic() + timeout
        while self.pids():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def restart(self, **changes):
        """Start again on the same spool (after stop() or kill9()), after
        applying changes to the attributes (e.g. maildir_template)."""
        for k, v in changes.items():
            setattr(self, k, v)
        return self.start()

    # -- logs ----------------------------------------------------------

    def log(self, everything=False):
        paths = self.logs if everything else self.logs[-1:]
        out = []
        for p in paths:
            try:
                with open(p, "rb") as f:
                    out.append(f.read().decode("utf-8", "replace"))
            except OSError:
                pass
        return "".join(out)

    def sanitizer_reports(self):
        text = self.log(everything=True)
        return [m for m in SANITIZER_MARKERS if m in text]

    # -- Maildir ---------------------------------------------------------

    def maildir(self, user, domain=DOMAIN):
        return (self.maildir_template.replace("%d", domain)
                .replace("%u", user))

    def delivered(self, user, domain=DOMAIN):
        """Paths in new/ of the user's Maildir, oldest first."""
        new = os.path.join(self.maildir(user, domain), "new")
        try:
            names = os.listdir(new)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR):
                return []
            raise
        paths = [os.path.join(new, n) for n in names]
        return sorted(paths, key=lambda p: (os.stat(p).st_mtime_ns, p))

    def all_delivered(self):
        """Every file in any new/ under the Maildir root."""
        found = []
        for dirpath, dirnames, filenames in os.walk(self.mail_root):
            if os.path.basename(dirpath) == "new":
                found += [os.path.join(dirpath, f) for f in filenames]
        return sorted(found)

    def wait_for_messages(self, user, count=1, domain=DOMAIN, timeout=15.0):
        """Wait (bounded) until user's new/ holds at least count messages;
        return their contents (bytes), oldest first. Fails the test with
        the server log if they do not arrive."""
        deadline = time.monotonic() + timeout
        while True:
            paths = self.delivered(user, domain)
            if len(paths) >= count:
                return [read_bytes(p) for p in paths]
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(paths)} of {count} message(s) for {user}@{domain}"
                    f" in {self.maildir(user, domain)}/new after {timeout}s"
                    f"\n--- server log ---\n{self.log(everything=True)}")
            time.sleep(0.05)

    def assert_no_more(self, user, count, domain=DOMAIN, grace=1.5):
        """After grace seconds, user's new/ holds exactly count messages."""
        time.sleep(grace)
        paths = self.delivered(user, domain)
        assert len(paths) == count, (
            f"expected exactly {count} message(s) for {user}@{domain}, "
            f"found {len(paths)}: {paths}")


def _keys(mapping):
    return [f"{k} = {v}" for k, v in mapping.items()]


class ServerDied(Exception):
    pass


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()
