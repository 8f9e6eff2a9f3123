"""A small test PKI for mutual TLS (issue 3), made with the openssl CLI
once per test session.

- ca: the CA that [tls] ca_file names; client certificates it signed
  verify.
- relay_fp: signed by ca, granted relay by its SHA-256 fingerprint.
- relay_dn: signed by ca, granted relay by issuer + subject.
- unlisted: signed by ca (so it verifies) but not in relay_client_certs.
- forged: subject of relay_dn, issuer name of ca, but signed by another
  key ("fake CA" with the same DN): issuer and subject match the listed
  line textually, yet it does not verify.
- selfsigned: a self-signed client certificate.
- spoof: self-signed, with a CN (SPOOF_CN) full of quotes and
  parentheses that imitates the Received text of a verified certificate.
- server_only: signed by ca, but for TLS servers only (extendedKeyUsage
  serverAuth): not a client certificate, even when listed.
- server(name, *dns_names, key=..., days=..., not_before=...,
  not_after=...): server certificates for the next hops of outbound
  delivery and the servers `tlsmta check` probes (made on demand):
  EC P-256 (key="ec", the default) or RSA (key="rsa" / "rsa:3072"), valid
  from now for days (default 30), or between two datetimes (an expired
  one: both in the past).

Each certificate is a Cert with pem/key paths, its RFC 2253 subject and
issuer as `openssl x509 -nameopt RFC2253` prints them, and its SHA-256
fingerprint (lower-case hex, no separators).
"""

import os
import subprocess

CA_SUBJECT = "/O=tlsmta tests/CN=tlsmta Test CA"
# A common name that tries to end the Received comment about the client
# certificate early and claim a verified one.
SPOOF_CN = 'x", Issuer "tlsmta Test CA" (verified OK)) (y'

TIMEOUT = 60


class Cert:
    def __init__(self, name, pem, key):
        self.name = name
        self.pem = pem
        self.key = key
        self.subject = _x509_field(pem, "-subject")
        self.issuer = _x509_field(pem, "-issuer")
        self.sha256 = _x509_field(pem, "-fingerprint", "-sha256") \
            .replace(":", "").lower()

    @property
    def sha256_colons(self):
        """AB:CD:... as `openssl x509 -fingerprint` prints it."""
        h = self.sha256.upper()
        return ":".join(h[i:i + 2] for i in range(0, len(h), 2))

    def __repr__(self):
        return f"Cert({self.name}, {self.subject})"


def _openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True,
                   timeout=TIMEOUT)


def _x509_field(pem, *opts):
    """The value of one `openssl x509 -noout` field (text after '=')."""
    out = subprocess.run(
        ["openssl", "x509", "-in", pem, "-noout", *opts,
         "-nameopt", "RFC2253"],
        check=True, capture_output=True, timeout=TIMEOUT).stdout.decode()
    return out.strip().split("=", 1)[1]


def _self_signed(d, name, subject, ca=False):
    pem, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
    ext = (["-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign"] if ca else
           ["-addext", "basicConstraints=CA:FALSE",
            "-addext", "extendedKeyUsage=clientAuth"])
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out",
             pem, "-days", "30", "-subj", subject, *ext)
    os.chmod(key, 0o600)
    return pem, key


# -newkey arguments of req per key kind ("rsa:N" is passed through).
EC_P256 = ("ec", "-pkeyopt", "ec_paramgen_curve:P-256")

# `openssl ca` config for certificates with given dates (x509 -req of
# OpenSSL 3.0 only starts them now): a throw-away database per call.
CA_CNF = """\
[ca]
default_ca = tca
[tca]
database = {d}/index.txt
new_certs_dir = {d}
serial = {d}/serial
policy = keep
default_md = sha256
unique_subject = no
[keep]
organizationName = optional
commonName = supplied
"""


def _newkey(kind):
    return EC_P256 if kind == "ec" else (kind if ":" in kind else
                                         kind + ":2048",)


def _asn1_time(when):
    """YYYYMMDDHHMMSSZ of a datetime (naive: UTC)."""
    return when.strftime("%Y%m%d%H%M%SZ")


def _sign_dated(d, name, csr, pem, ext, ca_pem, ca_key, not_before,
                not_after):
    """Sign csr with `openssl ca` for [not_before, not_after]."""
    cad = os.path.join(d, name + ".ca")
    os.makedirs(cad, exist_ok=True)
    cnf = os.path.join(cad, "ca.cnf")
    with open(cnf, "w") as f:
        f.write(CA_CNF.format(d=cad))
    open(os.path.join(cad, "index.txt"), "w").close()
    with open(os.path.join(cad, "serial"), "w") as f:
        f.write(os.urandom(8).hex() + "\n")
    _openssl("ca", "-batch", "-config", cnf, "-cert", ca_pem, "-keyfile",
             ca_key, "-in", csr, "-out", pem, "-notext", "-preserveDN",
             "-startdate", _asn1_time(not_before),
             "-enddate", _asn1_time(not_after), "-extfile", ext)


def _signed(d, name, subject, ca_pem, ca_key, usage="clientAuth", san=(),
            key_kind="ec", days=30, not_before=None, not_after=None):
    """A certificate for subject signed by (ca_pem, ca_key), with
    extendedKeyUsage usage and subjectAltName DNS names san (if any), a
    key_kind key ("ec": P-256, "rsa" / "rsa:N": RSA), valid for days
    from now, or from not_before to not_after (datetimes, UTC) if
    given."""
    pem, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
    csr = os.path.join(d, name + ".csr")
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write(f"basicConstraints=CA:FALSE\nextendedKeyUsage={usage}\n")
        if san:
            f.write("subjectAltName=" +
                    ",".join(f"DNS:{n}" for n in san) + "\n")
    _openssl("req", "-new", "-newkey", *_newkey(key_kind), "-nodes",
             "-keyout", key, "-out", csr, "-subj", subject)
    if not_before is not None or not_after is not None:
        _sign_dated(d, name, csr, pem, ext, ca_pem, ca_key, not_before,
                    not_after)
    else:
        _openssl("x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey",
                 ca_key, "-CAcreateserial", "-out", pem, "-days",
                 str(days), "-sha256", "-extfile", ext)
    os.chmod(key, 0o600)
    return pem, key


class TestPKI:
    """Every certificate of the test PKI under one directory."""

    __test__ = False        # not a pytest test class

    def __init__(self, d):
        self.dir = str(d)
        self.ca = Cert("ca", *_self_signed(self.dir, "ca", CA_SUBJECT,
                                           ca=True))
        fake_ca = _self_signed(self.dir, "fakeca", CA_SUBJECT, ca=True)
        sign = (self.ca.pem, self.ca.key)

        def client(name, cn, signer=sign, usage="clientAuth"):
            subject = f"/O=tlsmta tests/CN={cn}"
            return Cert(name, *_signed(self.dir, name, subject, *signer,
                                       usage=usage))

        self.relay_fp = client("relay_fp", "relay-fp.example.org")
        self.relay_dn = client("relay_dn", "relay-dn.example.org")
        self.unlisted = client("unlisted", "unlisted.example.org")
        self.forged = client("forged", "relay-dn.example.org", fake_ca)
        self.server_only = client("server_only", "relay-srv.example.org",
                                  usage="serverAuth")
        self.selfsigned = Cert("selfsigned", *_self_signed(
            self.dir, "selfsigned", "/O=tlsmta tests/CN=self.example.org"))
        self.spoof = Cert("spoof", *_self_signed(
            self.dir, "spoof", f"/CN={SPOOF_CN}"))

    def server(self, name, *dns_names, signer=None, key="ec", days=30,
               not_before=None, not_after=None):
        """A TLS server certificate (serverAuth) for dns_names (subject
        CN the first, subjectAltName all of them), signed by the test CA
        (or signer=(pem, key)); made once per name and kept. For the
        next hops of outbound delivery (issue 4) and the servers of
        `tlsmta check` (issue 5). key: "ec" (P-256) or "rsa" / "rsa:N";
        valid for days from now, or from not_before to not_after
        (datetimes in UTC; both in the past: expired)."""
        cache = self.__dict__.setdefault("_servers", {})
        if name not in cache:
            cache[name] = Cert(name, *_signed(
                self.dir, name, f"/O=tlsmta tests/CN={dns_names[0]}",
                *(signer or (self.ca.pem, self.ca.key)),
                usage="serverAuth", san=dns_names, key_kind=key, days=days,
                not_before=not_before, not_after=not_after))
        return cache[name]

    def relay_lines(self):
        """relay_client_certs text: relay_fp by fingerprint, relay_dn by
        issuer + subject (RFC 2253 one-line forms)."""
        return (f"# written by tests/integration/pki.py\n"
                f"sha256:{self.relay_fp.sha256}\n"
                f"issuer={self.relay_dn.issuer} "
                f"subject={self.relay_dn.subject}\n")
