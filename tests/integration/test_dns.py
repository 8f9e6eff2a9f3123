"""src/dns against a real DNS server: NSD on loopback (dnskit.py) serving
test zones, libunbound forwarding to it, driven in a libevent loop by
tests/tools/dns_probe. RFC 5321 5.1 (MX order, equal-preference shuffle,
implicit MX), RFC 7505 (null MX), NXDOMAIN, SERVFAIL and timeouts as
temporary failures, AAAA before A, cancellation.

The probe is found next to the tlsmta binary (TLSMTA_BIN's directory,
tests/tools/dns_probe) or at TLSMTA_DNS_PROBE.
"""

import json
import os
import subprocess

import pytest

from dnskit import DnsServer, free_port, soa_serial
from dnskit import make_dns_server  # noqa: F401  (a pytest fixture)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

ZONES = {
    "example.test": [
        "@ MX 20 mx2", "@ MX 10 mx1", "@ MX 30 mx3",
        "mx1 A 127.0.0.5", "mx1 A 127.0.0.6", "mx1 AAAA ::1",
        "mx2 A 127.0.0.7",
        "mx3 AAAA ::1",
        "mail CNAME mx1",
        "noaddr TXT \"no address here\"",
    ],
    "equal.test": ["@ MX 10 a", "@ MX 10 b", "@ MX 5 first"],
    "implicit.test": ["@ A 127.0.0.8"],
    "nomail.test": ["@ MX 0 ."],
    "weird.test": ["@ MX 10 a\\032b"],      # a space inside a label
}


@pytest.fixture(scope="module")
def dns_probe():
    path = os.environ.get("TLSMTA_DNS_PROBE")
    if not path:
        tlsmta = os.environ.get("TLSMTA_BIN",
                                os.path.join(REPO, "build-test", "tlsmta"))
        if not os.path.isabs(tlsmta):
            tlsmta = os.path.join(REPO, tlsmta)
        path = os.path.join(os.path.dirname(tlsmta), "tests", "tools",
                            "dns_probe")
    if not os.access(path, os.X_OK):
        pytest.fail(f"dns_probe {path} missing: build it (ninja -C "
                    "build-test) or set TLSMTA_DNS_PROBE")
    return path


@pytest.fixture(scope="module")
def dns():
    srv = DnsServer(ZONES).start()
    yield srv
    srv.stop()


def probe(path, resolver, *lookups, opts=()):
    """Run dns_probe; lookups are (kind, name) pairs. Returns the list of
    JSON results."""
    args = [path, *opts, resolver]
    for kind, name in lookups:
        args += [kind, name]
    p = subprocess.run(args, capture_output=True, text=True, timeout=90)
    assert p.returncode == 0, f"dns_probe exit {p.returncode}: {p.stderr}"
    return [json.loads(line) for line in p.stdout.splitlines()]


def one(path, resolver, kind, name, opts=()):
    (res,) = probe(path, resolver, (kind, name), opts=opts)
    assert res["kind"] == kind and res["name"] == name
    return res


def test_mx_sorted_by_preference(dns_probe, dns):
    res = one(dns_probe, dns.dns_resolver, "mx", "example.test")
    assert res["status"] == "OK" and not res["implicit"]
    assert res["hosts"] == [["mx1.example.test", 10],
                            ["mx2.example.test", 20],
                            ["mx3.example.test", 30]]
    assert res["why"] == ""


def test_equal_preferences_shuffled(dns_probe, dns):
    """RFC 5321 5.1: both orders of the two pref-10 hosts show up over 40
    lookups (chance of a false failure 2**-39); pref 5 always first."""
    results = probe(dns_probe, dns.dns_resolver, ("mx", "equal.test"),
                    opts=("-n", "40"))
    assert len(results) == 40
    orders = set()
    for res in results:
        assert res["status"] == "OK"
        assert res["hosts"][0] == ["first.equal.test", 5]
        orders.add(tuple(h[0] for h in res["hosts"][1:]))
    assert orders == {("a.equal.test", "b.equal.test"),
                      ("b.equal.test", "a.equal.test")}


def test_implicit_mx(dns_probe, dns):
    """RFC 5321 5.1: no MX records -> the domain itself, then its
    address."""
    mx, addr = probe(dns_probe, dns.dns_resolver, ("mx", "implicit.test"),
                     ("addr", "implicit.test"))
    assert mx["status"] == "OK" and mx["implicit"] is True
    assert mx["hosts"] == [["implicit.test", 0]]
    assert addr["status"] == "OK" and addr["addrs"] == ["127.0.0.8"]


def test_null_mx(dns_probe, dns):
    res = one(dns_probe, dns.dns_resolver, "mx", "nomail.test")
    assert res["status"] == "NULLMX" and res["hosts"] == []
    assert "RFC 7505" in res["why"]


def test_nxdomain_is_permanent(dns_probe, dns):
    mx, addr = probe(dns_probe, dns.dns_resolver,
                     ("mx", "nope.example.test"),
                     ("addr", "nope.example.test"))
    assert mx["status"] == "NOTFOUND"
    assert mx["why"] == "domain nope.example.test not found (NXDOMAIN)"
    assert addr["status"] == "NOTFOUND"
    assert addr["why"] == "host nope.example.test not found (NXDOMAIN)"


def test_no_address_is_permanent(dns_probe, dns):
    res = one(dns_probe, dns.dns_resolver, "addr", "noaddr.example.test")
    assert res["status"] == "NOTFOUND" and res["addrs"] == []
    assert res["why"] == "host noaddr.example.test has no address"


def test_servfail_is_temporary(dns_probe, dns):
    """NSD refuses names outside its zones; libunbound makes that a
    SERVFAIL, quickly."""
    mx, addr = probe(dns_probe, dns.dns_resolver, ("mx", "elsewhere.example"),
                     ("addr", "host.elsewhere.example"))
    assert mx["status"] == "TEMPFAIL" and "SERVFAIL" in mx["why"]
    assert addr["status"] == "TEMPFAIL" and "SERVFAIL" in addr["why"]
    assert mx["ms"] < 5000 and addr["ms"] < 5000


def test_dead_forwarder_times_out(dns_probe):
    """Nothing listens on the forwarder's port: the lookup ends as a
    temporary failure at the resolver's timeout, not later."""
    dead = f"127.0.0.1@{free_port()}"
    mx, addr = probe(dns_probe, dead, ("mx", "example.test"),
                     ("addr", "mx1.example.test"), opts=("-t", "1500"))
    for res in (mx, addr):
        assert res["status"] == "TEMPFAIL"
        assert "DNS lookup timed out" in res["why"]
        assert 1000 <= res["ms"] < 5000


def test_addresses_aaaa_then_a(dns_probe, dns):
    res = one(dns_probe, dns.dns_resolver, "addr", "mx1.example.test")
    assert res["status"] == "OK"
    assert res["addrs"][0] == "::1"
    assert sorted(res["addrs"][1:]) == ["127.0.0.5", "127.0.0.6"]
    v4, v6 = probe(dns_probe, dns.dns_resolver, ("addr", "mx2.example.test"),
                   ("addr", "mx3.example.test"))
    assert v4["addrs"] == ["127.0.0.7"] and v6["addrs"] == ["::1"]


def test_cname_followed(dns_probe, dns):
    res = one(dns_probe, dns.dns_resolver, "addr", "mail.example.test")
    assert res["status"] == "OK" and "127.0.0.5" in res["addrs"]


def test_names_normalized(dns_probe, dns):
    res = one(dns_probe, dns.dns_resolver, "mx", "EXAMPLE.Test.")
    assert res["status"] == "OK"
    assert res["hosts"][0] == ["mx1.example.test", 10]


def test_malformed_mx_target_deferred(dns_probe, dns):
    """An MX target with a space inside a label never leaves dns/: the
    record is malformed, the lookup a temporary failure."""
    res = one(dns_probe, dns.dns_resolver, "mx", "weird.test")
    assert res["status"] == "TEMPFAIL"
    assert res["why"] == "malformed MX record: invalid character"


@pytest.mark.parametrize("name", ["bad name.test", "a..b.test", "",
                                  "x" * 64 + ".test", "a\r\nb.test",
                                  "b\u00e4r.test", "a." * 127 + "test"])
def test_invalid_names_refused(dns_probe, dns, name):
    """Refused without a query, and still answered from the loop (the
    probe aborts on a callback inside dns_lookup_*())."""
    for kind in ("mx", "addr"):
        res = one(dns_probe, dns.dns_resolver, kind, name)
        assert res["status"] == "NOTFOUND"
        assert res["why"].startswith("invalid ")


def test_address_literal(dns_probe, dns):
    res = one(dns_probe, dns.dns_resolver, "addr", "127.0.0.9")
    assert res["status"] == "OK" and res["addrs"] == ["127.0.0.9"]


def test_cancel_calls_nothing(dns_probe, dns):
    out = probe(dns_probe, dns.dns_resolver, ("mx", "example.test"),
                ("addr", "mx1.example.test"), ("mx", "bad name"),
                opts=("-c", "-n", "5"))
    assert out == [{"cancelled": 15}]


@pytest.mark.parametrize("first", [(), ("mx", "bad name")])
def test_free_in_callback_stops_all(dns_probe, dns, first):
    """dns_resolver_free() from a callback, the one of an answer (inside
    ub_process()) or of a result known at once (a timer): no other
    callback runs after it (the probe aborts if one does), nothing
    crashes or leaks (ASan build)."""
    lookups = [("mx", "example.test"), ("addr", "mx1.example.test"),
               ("mx", "nomail.test")]
    if first:
        lookups.insert(0, first)
    out = probe(dns_probe, dns.dns_resolver, *lookups,
                opts=("-F", "-n", "10"))
    assert len(out) == 1
    if first:
        assert out[0]["name"] == "bad name"


def test_fixture_update_and_stop(dns_probe, make_dns_server):
    srv = make_dns_server({"upd.test": ["@ MX 10 old"]})
    res = one(dns_probe, srv.dns_resolver, "mx", "upd.test")
    assert res["hosts"] == [["old.upd.test", 10]]
    srv.update({"upd.test": ["@ MX 10 new"]})
    res = one(dns_probe, srv.dns_resolver, "mx", "upd.test")
    assert res["hosts"] == [["new.upd.test", 10]]
    srv.stop()
    assert soa_serial(srv.port, "upd.test") is None
