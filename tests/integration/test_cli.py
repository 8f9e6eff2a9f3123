"""The command line: --version, --help, `config check` on good and bad
files (every error as FILE:LINE: message, exit 78 = EX_CONFIG), and
`serve` refusing a bad configuration."""

import re
import subprocess

from tlsmta_server import TlsmtaServer, free_ports

EX_CONFIG = 78


def run(binary, *args, timeout=30):
    p = subprocess.run([binary, *args], capture_output=True,
                       timeout=timeout)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


def _config(tmp_path, tlsmta_bin, certs):
    srv = TlsmtaServer(tlsmta_bin, tmp_path / "cfg", certs)
    srv.ports = dict(zip(srv.listener_modes,
                         free_ports(len(srv.listener_modes))))
    return srv


def test_version_and_help(tlsmta_bin):
    rc, out = run(tlsmta_bin, "--version")
    assert rc == 0 and re.search(r"tlsmta\S* \S*\d", out), out
    rc, out = run(tlsmta_bin, "--help")
    assert rc == 0, out
    for word in ("serve", "config check", "-c"):
        assert word in out, out


def test_unknown_subcommand_is_usage_error(tlsmta_bin):
    rc, out = run(tlsmta_bin, "frobnicate")
    assert rc not in (0, EX_CONFIG), (rc, out)
    assert out.strip(), "no message for a usage error"


def test_config_check_good(tlsmta_bin, certs, tmp_path):
    srv = _config(tmp_path, tlsmta_bin, certs)
    path = srv.write_config()
    rc, out = run(tlsmta_bin, "config", "check", "-c", path)
    assert rc == 0, out
    assert "error" not in out.lower(), out


def test_config_check_bad_reports_every_error_with_line(tlsmta_bin, certs,
                                                        tmp_path):
    srv = _config(tmp_path, tlsmta_bin, certs)
    text = srv.config_text()
    lines = text.splitlines()
    # Line numbers of the errors we add, in a copy of a good file.
    lines.insert(1, "no_such_key = 1")                       # line 2
    lines.insert(2, "message_size_limit = lots")             # line 3
    lines.insert(3, "smtpd_bare_newline = sometimes")        # line 4
    lines.insert(4, f"local_recipients = {tmp_path}/missing")  # line 5
    mode = next(i for i, l in enumerate(lines) if l.startswith("tls = "))
    lines[mode] = "tls = sslv3"
    bad = tmp_path / "bad.conf"
    bad.write_text("\n".join(lines) + "\n")
    rc, out = run(tlsmta_bin, "config", "check", "-c", str(bad))
    assert rc == EX_CONFIG, (rc, out)
    for line in (2, 3, 4, 5, mode + 1):
        assert re.search(rf"^{re.escape(str(bad))}:{line}: \S",
                         out, re.M), (line, out)


def test_config_check_missing_file(tlsmta_bin, tmp_path):
    missing = tmp_path / "nope.conf"
    rc, out = run(tlsmta_bin, "config", "check", "-c", str(missing))
    assert rc == EX_CONFIG, (rc, out)
    assert str(missing) in out, out


def test_config_check_missing_cert(tlsmta_bin, certs, tmp_path):
    srv = _config(tmp_path, tlsmta_bin, certs)
    text = srv.config_text().replace(certs["rsa_key"],
                                     str(tmp_path / "absent.key"))
    bad = tmp_path / "nocert.conf"
    bad.write_text(text)
    rc, out = run(tlsmta_bin, "config", "check", "-c", str(bad))
    assert rc == EX_CONFIG, (rc, out)
    line = text.splitlines().index(f"key = {tmp_path}/absent.key") + 1
    assert re.search(rf"^{re.escape(str(bad))}:{line}: ", out, re.M), out


def test_config_check_loads_the_tls_files(tlsmta_bin, certs, tmp_path):
    """config check does what serve will do with [tls]: a key that does
    not match its cert, and a cert that is not PEM, are config errors at
    their own lines (exit 78), not surprises at start-up."""
    srv = _config(tmp_path, tlsmta_bin, certs)
    good = srv.config_text()
    # The ECDSA cert paired with the RSA key.
    text = good.replace(f"key = {certs['ecdsa_key']}",
                        f"key = {certs['rsa_key']}", 1)
    mismatch = tmp_path / "mismatch.conf"
    mismatch.write_text(text)
    rc, out = run(tlsmta_bin, "config", "check", "-c", str(mismatch))
    assert rc == EX_CONFIG, (rc, out)
    line = text.splitlines().index(f"key = {certs['rsa_key']}") + 1
    assert re.search(rf"^{re.escape(str(mismatch))}:{line}: key: .* does not "
                     r"match the cert", out, re.M), out
    # A cert file that is not PEM at all.
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    text = good.replace(f"cert = {certs['ecdsa_cert']}", f"cert = {junk}", 1)
    notpem = tmp_path / "notpem.conf"
    notpem.write_text(text)
    rc, out = run(tlsmta_bin, "config", "check", "-c", str(notpem))
    assert rc == EX_CONFIG, (rc, out)
    line = text.splitlines().index(f"cert = {junk}") + 1
    assert re.search(rf"^{re.escape(str(notpem))}:{line}: cert: .*cannot "
                     r"load certificate chain", out, re.M), out


def test_serve_refuses_bad_config(tlsmta_bin, tmp_path):
    bad = tmp_path / "bad.conf"
    bad.write_text("bogus = 1\n")
    rc, out = run(tlsmta_bin, "serve", "-f", "-c", str(bad), timeout=30)
    assert rc == EX_CONFIG, (rc, out)
    assert f"{bad}:1: " in out, out


def test_sslv3_and_tls1_cannot_be_configured(tlsmta_bin, certs, tmp_path):
    """Issue 2: SSLv2/SSLv3 cannot be configured; the minimum is 1.2 or
    1.3."""
    srv = _config(tmp_path, tlsmta_bin, certs)
    for bad_version in ("SSLv3", "SSLv2", "TLSv1", "TLSv1.1"):
        text = srv.config_text().replace("min_version = TLSv1.2",
                                         f"min_version = {bad_version}")
        path = tmp_path / f"{bad_version}.conf"
        path.write_text(text)
        line = text.splitlines().index(f"min_version = {bad_version}") + 1
        rc, out = run(tlsmta_bin, "config", "check", "-c", str(path))
        assert rc == EX_CONFIG, (bad_version, rc, out)
        assert f"{path}:{line}: " in out, out


def test_serve_fails_cleanly_when_port_taken(make_server, tlsmta_bin):
    running = make_server()
    rc, out = run(tlsmta_bin, "serve", "-f", "-c", running.config_path,
                  timeout=30)
    assert rc != 0, out
    assert "127.0.0.1:" in out and "in use" in out.lower(), out
    assert "Sanitizer" not in out and "runtime error:" not in out, out
    assert running.alive()
