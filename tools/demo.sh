#!/bin/sh
# `make run`: a demo tlsmta on 127.0.0.1 under ./demo (git-ignored):
# a development certificate (ECDSA P-256 and RSA 2048, self-signed), a config
# with the three classic listeners, and a Maildir for example.test.
set -eu
BIN=${1:-build/tlsmta}
top=$(cd "$(dirname "$0")/.." && pwd)
demo="$top/demo"
mkdir -p "$demo/certs" "$demo/spool" "$demo/mail" "$demo/sasl"

if [ ! -f "$demo/certs/ecdsa.pem" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$demo/certs/ecdsa.key" -out "$demo/certs/ecdsa.pem" \
        -days 825 -subj "/CN=mail.example.test" \
        -addext "subjectAltName=DNS:mail.example.test,DNS:localhost,IP:127.0.0.1" \
        2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes \
        -keyout "$demo/certs/rsa.key" -out "$demo/certs/rsa.pem" \
        -days 825 -subj "/CN=mail.example.test" \
        -addext "subjectAltName=DNS:mail.example.test,DNS:localhost,IP:127.0.0.1" \
        2>/dev/null
    chmod 600 "$demo/certs/"*.key
fi

cat > "$demo/tlsmta.conf" <<CONF
# Demo configuration written by tools/demo.sh (make run).
hostname      = mail.example.test
spool         = $demo/spool
local_domains = example.test
maildir       = $demo/mail/%d/%u

[tls]
cert = $demo/certs/ecdsa.pem
key  = $demo/certs/ecdsa.key
cert = $demo/certs/rsa.pem
key  = $demo/certs/rsa.key
min_version = TLSv1.2

[auth]
# SMTP AUTH through Cyrus SASL with tlsmta's own sasldb (tlsmta user add).
sasl_config_dir = $demo/sasl
sasldb_path     = $demo/sasldb2
mechanisms      = PLAIN LOGIN

[listen mx]
address = 127.0.0.1:2525
tls     = starttls

[listen submissions]
address = 127.0.0.1:4465
tls     = implicit
auth    = required

[listen submission]
address = 127.0.0.1:5587
tls     = starttls-required
auth    = required
CONF

"$BIN" config check -c "$demo/tlsmta.conf"
# A demo user for the submission ports (password read from stdin).
echo "demo-password" | "$BIN" user add alice@example.test -c "$demo/tlsmta.conf"
cat <<MSG

tlsmta demo: MX 127.0.0.1:2525 (STARTTLS), 127.0.0.1:4465 (implicit TLS,
AUTH required), 127.0.0.1:5587 (STARTTLS and AUTH required). Mail for @example.test lands in
$demo/mail/example.test/<user>/new/. Try, in another terminal:

  swaks --server 127.0.0.1:2525 --tls --to alice@example.test --from bob@example.org

and, logged in as the demo user on the submission port (STARTTLS, AUTH):

  swaks --server 127.0.0.1:5587 --tls --auth PLAIN --auth-user alice@example.test --auth-password demo-password --from alice@example.test --to alice@example.test

Stop with Ctrl-C.
MSG
exec "$BIN" serve -f -c "$demo/tlsmta.conf"
