"""A real authoritative DNS server (NSD, Debian package nsd) on loopback
for the tests, serving zones given as Python data.

    from dnskit import DnsServer
    dns = DnsServer({
        "example.test": ["@ MX 10 mx1", "@ MX 20 mx2",
                         "mx1 A 127.0.0.5", "mx1 AAAA ::1",
                         "mx2 A 127.0.0.6"],
        "nomail.test": ["@ MX 0 ."],              # RFC 7505 null MX
    }).start()
    dns.dns_resolver      # "127.0.0.1@PORT": tlsmta's [outbound]
                          # dns_resolver, dns_resolver_new()'s forwarders
    dns.update({...})     # new zone data, served once this returns
    dns.stop()

or, in pytest, the make_dns_server fixture below (import it into a test
module, or into conftest.py for the whole suite):

    from dnskit import make_dns_server  # noqa: F401  (pytest fixture)
    def test_x(make_dns_server):
        dns = make_dns_server({"example.test": [...]})

Each zone is a list of master-file lines (RFC 1035 5) relative to the
zone ($ORIGIN is the zone, so "@" is the apex and "mx1" is
mx1.<zone>.); a multi-line string works too. SOA and NS records are added
unless a line has them; TTLs are 1 second so that an update shows at once
in a resolver's cache. Names under .test need no setup in tlsmta: its
resolver forwards them (src/dns/dns.c).

NSD answers authoritatively only: names outside the zones get REFUSED,
which a resolver turns into SERVFAIL, a handy temporary failure. It runs
in the foreground (-d) in its own process group, on 127.0.0.1 and a free
high port, with its config, pid file and log in its own directory; it
never reads /etc/nsd, never changes the system resolver, and the Debian
nsd service is disabled by tools/install-deps.sh.
"""

import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import pytest

from proctools import stop_group

HOST = "127.0.0.1"
START_TIMEOUT = 10.0
NSD = shutil.which("nsd") or "/usr/sbin/nsd"
NSD_CHECKZONE = shutil.which("nsd-checkzone") or "/usr/sbin/nsd-checkzone"
TYPE_SOA = 6


def free_port():
    """A port free for both UDP and TCP on HOST (NSD serves both)."""
    for _ in range(50):
        port = random.randint(20000, 60000)
        try:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind((HOST, port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port for the DNS server")


def _wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def _skip_name(msg, pos):
    """Offset just past the (possibly compressed) name at pos."""
    while True:
        n = msg[pos]
        if n >= 0xC0:
            return pos + 2
        if n == 0:
            return pos + 1
        pos += 1 + n


def soa_serial(port, zone, host=HOST, timeout=0.5):
    """Ask the server at host:port for zone's SOA; its serial, or None if
    there is no authoritative answer."""
    qid = random.randint(0, 0xFFFF)
    query = (struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + _wire_name(zone)
             + struct.pack(">HH", TYPE_SOA, 1))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(query, (host, port))
            msg = s.recv(4096)
        except OSError:
            return None
    rid, flags, qd, an = struct.unpack(">HHHH", msg[:8])
    if rid != qid or flags & 0x000F or an == 0:
        return None
    pos = 12
    for _ in range(qd):
        pos = _skip_name(msg, pos) + 4
    pos = _skip_name(msg, pos)
    rtype, _cls, _ttl, _rdlen = struct.unpack(">HHIH", msg[pos:pos + 10])
    if rtype != TYPE_SOA:
        return None
    pos = _skip_name(msg, _skip_name(msg, pos + 10))
    return struct.unpack(">I", msg[pos:pos + 4])[0]


def zone_text(zone, records, serial, ttl=1):
    """The master file of zone: $ORIGIN, $TTL, SOA and NS unless given,
    then records (a list of lines or one string)."""
    if isinstance(records, str):
        records = records.splitlines()
    lines = [r.strip() for r in records if r.strip()]
    types = {w.upper() for r in lines for w in r.split()[1:4]}
    head = [f"$ORIGIN {zone.rstrip('.')}.", f"$TTL {ttl}"]
    if "SOA" not in types:
        head.append(f"@ IN SOA ns hostmaster {serial} 3600 600 86400 {ttl}")
    if "NS" not in types:
        head += ["@ IN NS ns", f"ns IN A {HOST}"]
    return "\n".join(head + lines) + "\n"


class DnsServer:
    """NSD serving zones ({zone: records}) on HOST:port (a free one if
    None); workdir: where its files go (a new temp dir if None)."""

    def __init__(self, zones, workdir=None, port=None):
        self.zones = dict(zones)
        self._own_dir = workdir is None
        self.dir = str(workdir) if workdir else tempfile.mkdtemp(
            prefix="nsd-")
        os.makedirs(self.dir, exist_ok=True)
        self.port = port
        self.serial = int(time.time()) % 1000000000
        self.proc = None
        self._mtime = 0.0
        self.conf = os.path.join(self.dir, "nsd.conf")
        self.log_path = os.path.join(self.dir, "nsd.log")

    @property
    def dns_resolver(self):
        """The forwarder string for tlsmta: "127.0.0.1@PORT"."""
        return f"{HOST}@{self.port}"

    def _write_zones(self):
        for zone, records in self.zones.items():
            path = os.path.join(self.dir, zone.rstrip(".") + ".zone")
            with open(path, "w") as f:
                f.write(zone_text(zone, records, self.serial))
            # NSD reloads a zone whose file mtime changed: make sure it did
            self._mtime = max(time.time(), self._mtime + 1)
            os.utime(path, (self._mtime, self._mtime))
            check = subprocess.run(
                [NSD_CHECKZONE, zone.rstrip("."), path],
                capture_output=True, text=True, timeout=30)
            if check.returncode != 0:
                raise ValueError(f"zone {zone} rejected by nsd-checkzone:\n"
                                 f"{check.stdout}{check.stderr}\n"
                                 f"{open(path).read()}")

    def _write_conf(self):
        d = self.dir
        zones = "".join(
            f"zone:\n  name: \"{z.rstrip('.')}\"\n"
            f"  zonefile: \"{z.rstrip('.')}.zone\"\n" for z in self.zones)
        with open(self.conf, "w") as f:
            f.write(f"""server:
  ip-address: {HOST}@{self.port}
  port: {self.port}
  username: ""
  chroot: ""
  database: ""
  zonesdir: "{d}"
  pidfile: "{d}/nsd.pid"
  xfrdfile: "{d}/xfrd.state"
  zonelistfile: "{d}/zone.list"
  xfrdir: "{d}"
  cookie-secret-file: "{d}/cookiesecrets.txt"
  logfile: "{self.log_path}"
  server-count: 1
  verbosity: 1
  hide-version: yes
  zonefiles-write: 0
remote-control:
  control-enable: no
{zones}""")

    def start(self):
        """Write the zones, start NSD, wait until it answers for every
        zone. Returns self."""
        if self.port is None:
            self.port = free_port()
        self._write_zones()
        self._write_conf()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [NSD, "-d", "-c", self.conf], stdin=subprocess.DEVNULL,
                stdout=log, stderr=log, start_new_session=True)
        self._wait_serial(f"NSD did not start on {self.dns_resolver}")
        return self

    def _wait_serial(self, what):
        deadline = time.monotonic() + START_TIMEOUT
        while not all(soa_serial(self.port, z) == self.serial
                      for z in self.zones):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{what}:\n{self.log()}")
            time.sleep(0.05)

    def update(self, zones):
        """Serve zones (the whole new set of the same zone names, records
        changed) from now on: rewrite the files, SIGHUP NSD and wait until
        it answers with the new serial."""
        if set(zones) != set(self.zones):
            raise ValueError("update() changes records, not zone names")
        self.zones = dict(zones)
        self.serial += 1
        self._write_zones()
        os.kill(self.proc.pid, signal.SIGHUP)
        self._wait_serial("NSD did not reload its zones")

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        """SIGTERM NSD's process group, SIGKILL if it lingers; remove the
        directory if this object made it."""
        stop_group(self.proc)
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


@pytest.fixture
def make_dns_server(tmp_path):
    """Factory: make_dns_server(zones, port=None) -> a started DnsServer
    in tmp_path; every one is stopped at teardown."""
    servers = []

    def make(zones, **kw):
        srv = DnsServer(zones, workdir=tmp_path / f"nsd{len(servers)}", **kw)
        servers.append(srv)
        return srv.start()

    yield make
    for srv in servers:
        srv.stop()
