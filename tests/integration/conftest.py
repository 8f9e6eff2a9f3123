"""Fixtures of the integration suite: the tlsmta binary, a development
certificate pair (ECDSA P-256 and RSA-2048, self-signed, made once per
session with the openssl CLI), and tlsmta servers started per test.

Run: TLSMTA_BIN=build-test/tlsmta /usr/bin/python3 -m pytest -q \
     tests/integration
Every test is bounded in time (pytest-timeout when installed, otherwise
SIGALRM), talks to 127.0.0.1 only and never queries DNS.
"""

import os
import resource
import signal
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from tlsmta_server import TlsmtaServer  # noqa: E402
import authkit  # noqa: E402
import pki  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_BIN = os.path.join(REPO, "build-test", "tlsmta")
TEST_TIMEOUT = 120   # seconds per test, fixtures included

# 1,000 concurrent connections need more descriptors than the usual 1024,
# in this process and in the server it starts (it inherits the limit).
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _hard == resource.RLIM_INFINITY or _hard >= 8192:
    resource.setrlimit(resource.RLIMIT_NOFILE, (8192, _hard))
else:
    resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))


def pytest_collection_modifyitems(config, items):
    if config.pluginmanager.hasplugin("timeout"):
        for item in items:
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(TEST_TIMEOUT))


@pytest.fixture(autouse=True)
def _alarm_without_plugin(request):
    """Bound each test in time when pytest-timeout is missing."""
    if request.config.pluginmanager.hasplugin("timeout"):
        yield
        return

    def expired(signum, frame):
        raise TimeoutError(f"test exceeded {TEST_TIMEOUT}s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="session")
def tlsmta_bin():
    path = os.environ.get("TLSMTA_BIN", DEFAULT_BIN)
    if not os.path.isabs(path):
        path = os.path.join(REPO, path)
    if not os.access(path, os.X_OK):
        pytest.fail(f"tlsmta binary {path} missing: build it "
                    "(ninja -C build-test) or set TLSMTA_BIN")
    return path


def _make_cert(directory, kind, newkey):
    cert = os.path.join(directory, f"{kind}.pem")
    key = os.path.join(directory, f"{kind}.key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", newkey[0], *newkey[1:],
         "-nodes", "-keyout", key, "-out", cert, "-days", "30",
         "-subj", "/CN=mail.example.test",
         "-addext", "subjectAltName=DNS:mail.example.test,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    return cert, key


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """{ecdsa,rsa}_{cert,key} paths of two self-signed certificates."""
    d = str(tmp_path_factory.mktemp("certs"))
    out = {}
    for kind, newkey in (("ecdsa", ("ec", "-pkeyopt",
                                    "ec_paramgen_curve:P-256")),
                         ("rsa", ("rsa:2048",))):
        out[kind + "_cert"], out[kind + "_key"] = _make_cert(d, kind, newkey)
    return out


@pytest.fixture
def make_server(tlsmta_bin, certs, tmp_path):
    """Factory: make_server(settings={...}, extra="...", start=True) ->
    TlsmtaServer in its own directory. At teardown every server gets
    SIGTERM; the test fails if one did not stop cleanly or if its stderr
    shows an ASan/UBSan report."""
    servers = []

    def make(settings=None, extra="", start=True, **kw):
        workdir = tmp_path / f"tlsmta{len(servers)}"
        srv = TlsmtaServer(tlsmta_bin, workdir, certs, settings=settings,
                           extra=extra, **kw)
        servers.append(srv)
        if start:
            srv.start()
        return srv

    yield make

    problems = []
    for srv in servers:
        problems += srv.stop()
        reports = srv.sanitizer_reports()
        if reports:
            problems.append(f"sanitizer report ({', '.join(reports)}) in "
                            f"{srv.workdir}:\n{srv.log(everything=True)}")
        print(f"--- tlsmta log {srv.workdir} ---\n"
              f"{srv.log(everything=True)[-6000:]}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def server(make_server):
    """One running tlsmta with the default configuration."""
    return make_server()


@pytest.fixture(scope="session")
def test_pki(tmp_path_factory):
    """A CA and client certificates for mutual TLS (tests/integration/
    pki.py), made once per session."""
    return pki.TestPKI(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def make_auth_server(make_server):
    """Factory: make_auth_server(users={name: password}, auth={[auth]
    keys}, modes={listener: auth mode}, ...) -> a started TlsmtaServer
    with SMTP AUTH on and its own sasldb (tests/integration/authkit.py)."""
    def make(**kw):
        return authkit.make_auth_server(make_server, **kw)
    return make


@pytest.fixture
def auth_server(make_auth_server):
    """A server with AUTH on and one sasldb user, authkit.USER."""
    return make_auth_server(users={authkit.USER: authkit.PASSWORD})
