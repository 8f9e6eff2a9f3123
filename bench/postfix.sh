#!/bin/sh
# postfix.sh -- a private Postfix on loopback, to compare tlsmta with
# (bench/run.sh --postfix) and to try the bench tools on a known server.
#
#   bench/postfix.sh start DIR PORT_STARTTLS PORT_IMPLICIT CERT KEY
#   bench/postfix.sh stop DIR
#
# Everything lives under DIR (config, queue, Maildirs under DIR/mail); the
# system's Postfix instance is not touched. Mail for @bench.test goes to
# DIR/mail/bench.test/USER/ (virtual(8), Maildir), as tlsmta's bench config
# does. Needs root (Postfix's master runs as root, daemons as 'postfix').
# Prints the master's pid on start.
set -eu

pf_start() {
    dir=$1 p1=$2 p2=$3 cert=$4 key=$5
    mkdir -p "$dir/etc" "$dir/spool" "$dir/data" "$dir/mail"
    chmod 755 "$dir" "$dir/mail"
    chown postfix "$dir/data"
    chown nobody:nogroup "$dir/mail"
    # virtual(8) allows no regexp substitution: list the users.
    i=0
    while [ $i -lt "${BENCH_USERS:-100}" ]; do
        echo "user$i@bench.test bench.test/user$i/"; i=$((i + 1))
    done > "$dir/etc/vmailbox"
    cat > "$dir/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $dir/spool
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.bench.test
mydomain = bench.test
myorigin = bench.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
default_process_limit = ${BENCH_PF_PROCS:-1200}
alias_maps =
alias_database =
local_recipient_maps =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
virtual_mailbox_domains = bench.test
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = texthash:$dir/etc/vmailbox
virtual_minimum_uid = 100
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
smtpd_tls_security_level = may
smtpd_tls_chain_files = $key, $cert
smtpd_tls_session_cache_database =
maillog_file_prefixes = $dir
maillog_file = $dir/maillog
CF
    cat > "$dir/etc/master.cf" <<CF
127.0.0.1:$p1 inet n - n - - smtpd
127.0.0.1:$p2 inet n - n - - smtpd -o smtpd_tls_wrappermode=yes
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
smtp      unix  - - n -  - smtp
relay     unix  - - n -  - smtp
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
local     unix  - n n -  - local
virtual   unix  - n n -  - virtual
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
CF
    # postfix(1) reports to syslog or maillog_file, not to a pipe.
    postfix -c "$dir/etc" start >/dev/null 2>&1 \
        || { echo "postfix.sh: start failed, see $dir/maillog" >&2; exit 1; }
    i=0
    while [ ! -s "$dir/spool/pid/master.pid" ] && [ $i -lt 100 ]; do
        sleep 0.1; i=$((i + 1))
    done
    tr -d ' ' < "$dir/spool/pid/master.pid"
}

pf_stop() {
    postfix -c "$1/etc" stop >/dev/null 2>&1 || true
}

case "${1:-}" in
start) shift; [ $# -eq 5 ] || { echo "usage: $0 start DIR P1 P2 CERT KEY" >&2; exit 2; }
       pf_start "$@" ;;
stop)  shift; [ $# -eq 1 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }
       pf_stop "$1" ;;
*)     echo "usage: $0 start DIR PORT_STARTTLS PORT_IMPLICIT CERT KEY | stop DIR" >&2
       exit 2 ;;
esac
