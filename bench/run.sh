#!/bin/bash
# run.sh -- measure a tlsmta (and optionally a private Postfix) on loopback.
#
#   bench/run.sh [options] SERVER_BINARY
#     --postfix        also measure a private Postfix (bench/postfix.sh)
#     --postfix-only   measure only Postfix (SERVER_BINARY may be omitted)
#     --msgs N         messages per load run (2000)
#     --idle N         idle TLS sessions for the memory figure (1000)
#     --repeat N       run each load N times, report medians (3)
#     --tools DIR      where smtp_source and idle_sessions are
#                      (default: bench/ beside SERVER_BINARY, else build/bench)
#     --keep           keep the temporary directory
#
# For each server: a warm-up, then (a) STARTTLS with one message per
# connection and (b) ten per connection, 50 clients, 4 KB messages, and
# (a') implicit TLS with one per connection. A run counts once every
# accepted message is a file in a Maildir new/: rate = messages / (time of
# the last rename into new/ - start of sending). Server CPU per message is
# utime+stime (+ reaped children) of the server's process tree. Memory:
# RSS and PSS of the tree with 0 and with N idle TLS sessions. Everything
# is bounded: message counts, smtp_source -d caps, timeouts on every wait.
# Only 127.0.0.1 is ever contacted. Details: docs/bench.md.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
MSGS=2000 IDLE=1000 CLIENTS=50 SIZE=4096 USERS=100 REPEAT=3
PORT=${BENCH_PORT:-}
WITH_TLSMTA=1 WITH_POSTFIX=0 KEEP=0 TOOLS= BIN=
HZ=$(getconf CLK_TCK)

die() { echo "run.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case $1 in
    --postfix) WITH_POSTFIX=1 ;;
    --postfix-only) WITH_POSTFIX=1 WITH_TLSMTA=0 ;;
    --msgs) MSGS=$2; shift ;;
    --idle) IDLE=$2; shift ;;
    --repeat) REPEAT=$2; shift ;;
    --tools) TOOLS=$2; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) BIN=$1 ;;
    esac
    shift
done
[ "$WITH_TLSMTA" = 0 ] || [ -x "$BIN" ] || die "usage: run.sh [--postfix] SERVER_BINARY"
if [ -z "$TOOLS" ]; then
    TOOLS=$(dirname "${BIN:-build/tlsmta}")/bench
    [ -x "$TOOLS/smtp_source" ] || TOOLS=$HERE/../build/bench
fi
SOURCE=$TOOLS/smtp_source IDLER=$TOOLS/idle_sessions
[ -x "$SOURCE" ] && [ -x "$IDLER" ] || die "no smtp_source/idle_sessions in $TOOLS (ninja -C build)"

TMP=$(mktemp -d /tmp/tlsmta-bench.XXXXXX)
chmod 755 "$TMP"
SERVER_PID= PF_DIR=
cleanup() {
    if [ -n "$SERVER_PID" ]; then stop_tlsmta; fi
    if [ -n "$PF_DIR" ]; then "$HERE/postfix.sh" stop "$PF_DIR"; fi
    if [ "$KEEP" = 1 ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- process tree figures ------------------------------------------------

# The pid and all its descendants.
tree_pids() {
    ps -e -o pid=,ppid= | awk -v root="$1" '
        { parent[$1] = $2 }
        END { keep[root] = 1; changed = 1
              while (changed) { changed = 0
                  for (p in parent) if (!(p in keep) && (parent[p] in keep)) {
                      keep[p] = 1; changed = 1 } }
              for (p in keep) print p }'
}

# utime+stime+cutime+cstime of the tree, in clock ticks.
cpu_ticks() {
    local p t=0
    for p in $(tree_pids "$1"); do
        [ -r "/proc/$p/stat" ] || continue
        t=$((t + $(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null \
                   | awk '{ print $12 + $13 + $14 + $15 }' || echo 0)))
    done
    echo $t
}

# "RSS_kB PSS_kB" summed over the tree.
mem_kb() {
    local p
    for p in $(tree_pids "$1"); do
        cat "/proc/$p/smaps_rollup" 2>/dev/null || true
    done | awk '/^Rss:/ { r += $2 } /^Pss:/ { s += $2 } END { print r + 0, s + 0 }'
}

maildir_count() { find "$1" -path '*/new/*' -type f 2>/dev/null | wc -l; }
last_ctime() { find "$1" -path '*/new/*' -type f -printf '%C@\n' | sort -n | tail -1; }

# Wait (at most $3 s) until the Maildir tree $1 holds $2 messages.
wait_count() {
    local deadline=$((SECONDS + $3))
    while [ "$(maildir_count "$1")" -lt "$2" ]; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.02
    done
}

# A base port P such that P, P+1, P+10 and P+11 are free on 127.0.0.1: two
# benchmarks (or a test suite) running at once must not share a server.
pick_port() {
    local used p i
    used=$(ss -Hltn 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }')
    for i in $(seq 50); do
        p=${BENCH_PORT:-$((20000 + RANDOM % 20000))}
        if ! printf '%s\n' "$used" | grep -qxE "$p|$((p + 1))|$((p + 10))|$((p + 11))"; then
            echo "$p"; return 0
        fi
        [ -z "${BENCH_PORT:-}" ] || break
    done
    die "no free port (BENCH_PORT=${BENCH_PORT:-})"
}

wait_port() {
    local i
    for i in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

result() { sed -n 's/^RESULT //p' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# ---- one load run ----------------------------------------------------------

# bench_load NAME ROOT_PID MAILDIR PORT TLSFLAG PER_CONN: one row of rows.tsv.
bench_load() {
    local name=$1 root=$2 mail=$3 port=$4 flag=$5 per=$6
    local out=$TMP/load-$name-$flag-$per.out n0 c0 c1 t0 t1 ok fail unsent acc
    local ccpu
    n0=$(maildir_count "$mail")
    c0=$(cpu_ticks "$root")
    t0=$(date +%s.%N)
    "$SOURCE" "$flag" -c "$CLIENTS" -m "$MSGS" -r "$per" -s "$SIZE" \
        -u "$USERS" -F client.bench.test -d 300 "127.0.0.1:$port" \
        > "$out" 2>&1 || true
    ok=$(result "$out" ok) fail=$(result "$out" failed)
    unsent=$(result "$out" unsent) acc=$(result "$out" rate)
    ccpu=$(result "$out" client_cpu)
    [ -n "$ok" ] || { cat "$out" >&2; die "smtp_source failed"; }
    if ! wait_count "$mail" $((n0 + ok)) 120; then
        echo "run.sh: only $(( $(maildir_count "$mail") - n0 )) of $ok" \
             "messages reached the Maildir in 120 s" >&2
    fi
    t1=$(last_ctime "$mail")
    c1=$(cpu_ticks "$root")
    awk -v n="$name" -v f="$flag" -v p="$per" -v ok="$ok" \
        -v bad=$((fail + unsent)) -v acc="$acc" -v t0="$t0" -v t1="$t1" \
        -v c=$((c1 - c0)) -v hz="$HZ" -v cc="$ccpu" 'BEGIN {
        mode = (f == "-S") ? "STARTTLS" : "implicit"
        rate = (t1 > t0 && ok > 0) ? ok / (t1 - t0) : 0
        cpu = (ok > 0) ? c * 1000 / hz / ok : 0
        ccpu = (ok > 0) ? cc * 1000 / ok : 0
        printf "%s\t%s %d/conn\t%d\t%d\t%.1f\t%.1f\t%.2f\t%.2f\n",
            n, mode, p, ok, bad, acc, rate, cpu, ccpu }' >> "$TMP/rows.tsv"
    tail -1 "$TMP/rows.tsv" | awk -F'\t' '{ printf "  %s %s: %s accepted/s,"\
        " %s in Maildir/s, %s ms server CPU/msg\n", $1, $2, $5, $6, $7 }'
    grep -E '^(failures|latency)' "$out" | grep -v 'failures   none' \
        | sed 's/^/      /' || true
}

# ---- idle memory -------------------------------------------------------------

# bench_idle NAME ROOT_PID PORT: open $IDLE STARTTLS sessions, compare memory.
IDLE_ROWS=()
bench_idle() {
    local name=$1 root=$2 port=$3 out=$TMP/idle-$1.out m0 m1 est live pid
    sleep 1
    m0=$(mem_kb "$root")
    "$IDLER" -S -n "$IDLE" -c 50 -H 20 -d 200 "127.0.0.1:$port" > "$out" 2>&1 &
    pid=$!
    local deadline=$((SECONDS + 150))
    until grep -q '^READY' "$out"; do
        if [ $SECONDS -ge $deadline ] || ! kill -0 $pid 2>/dev/null; then
            break
        fi
        sleep 0.2
    done
    sleep 1
    m1=$(mem_kb "$root")
    est=$(sed -n 's/^READY established=\([0-9]*\).*/\1/p' "$out")
    # A new client must still be served while the idle sessions are open.
    live=$("$SOURCE" -S -c 5 -m 20 -d 30 -u "$USERS" "127.0.0.1:$port" \
           2>/dev/null | sed -n 's/^RESULT ok=\([0-9]*\).*/\1/p')
    wait $pid || true
    IDLE_ROWS+=("$(awk -v n="$name" -v est="${est:-0}" -v live="${live:-0}" \
        -v r0="${m0% *}" -v p0="${m0#* }" -v r1="${m1% *}" -v p1="${m1#* }" \
        'BEGIN { d = est ? est : 1
        printf "%-8s %6d %10d %10d %10.1f %10.1f %9d/20\n", n, est, r0, r1,
            (r1 - r0) / d, (p1 - p0) / d, live }')")
    grep -E '^(failures|idle_sessions)' "$out" | sed "s/^/    $name idle: /"
}

# ---- the servers ---------------------------------------------------------------

make_cert() {
    mkdir -p "$TMP/certs"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$TMP/certs/key.pem" -out "$TMP/certs/cert.pem" -days 30 \
        -subj "/CN=mail.bench.test" \
        -addext "subjectAltName=DNS:mail.bench.test,IP:127.0.0.1" 2>/dev/null
    chmod 644 "$TMP/certs/cert.pem" "$TMP/certs/key.pem"
}

start_tlsmta() {
    local d=$TMP/tlsmta
    mkdir -p "$d/spool" "$d/mail"
    cat > "$d/tlsmta.conf" <<CONF
# Benchmark configuration written by bench/run.sh.
hostname      = mail.bench.test
spool         = $d/spool
local_domains = bench.test
maildir       = $d/mail/%d/%u

[tls]
cert = $TMP/certs/cert.pem
key  = $TMP/certs/key.pem

[listen mx]
address = 127.0.0.1:$PORT
tls     = starttls

[listen submissions]
address = 127.0.0.1:$((PORT + 1))
tls     = implicit
CONF
    "$BIN" config check -c "$d/tlsmta.conf" || die "config rejected"
    (ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
     exec "$BIN" serve -f -c "$d/tlsmta.conf") 2> "$d/server.log" &
    SERVER_PID=$!
    if ! wait_port "$PORT" || ! kill -0 "$SERVER_PID" 2>/dev/null; then
        tail "$d/server.log" >&2; die "tlsmta did not start"
    fi
}

stop_tlsmta() {
    local i
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for i in $(seq 50); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

# measure NAME ROOT_PID MAILDIR PORT_STARTTLS PORT_IMPLICIT
measure() {
    local name=$1 root=$2 mail=$3 p1=$4 p2=$5
    echo "== $name (pid $root)"
    # Warm-up: every user's Maildir exists, caches are filled.
    "$SOURCE" -S -c 10 -m "$USERS" -u "$USERS" -d 60 "127.0.0.1:$p1" \
        > "$TMP/warmup-$name.out" 2>&1 || true
    wait_count "$mail" "$(result "$TMP/warmup-$name.out" ok)" 60 || true
    local i
    for i in $(seq "$REPEAT"); do
        bench_load "$name" "$root" "$mail" "$p1" -S 1
        bench_load "$name" "$root" "$mail" "$p1" -S 10
        bench_load "$name" "$root" "$mail" "$p2" -T 1
    done
    bench_idle "$name" "$root" "$p1"
}

PORT=$(pick_port)
make_cert
# This machine's disk: synchronous 4 kB writes per second (each one is a
# write and a flush, like the fsync that ends a spool commit).
dd if=/dev/zero of="$TMP/dsync" bs=4k count=500 oflag=dsync 2>&1 \
    | awk '/copied/ { printf "disk: %.0f synchronous 4 kB writes/s\n", 500 / $(NF-3) }'
rm -f "$TMP/dsync"
if [ "$WITH_TLSMTA" = 1 ]; then
    start_tlsmta
    measure tlsmta "$SERVER_PID" "$TMP/tlsmta/mail" "$PORT" $((PORT + 1))
    stop_tlsmta
fi
if [ "$WITH_POSTFIX" = 1 ]; then
    PF_DIR=$TMP/postfix
    pf_pid=$(BENCH_USERS=$USERS "$HERE/postfix.sh" start "$PF_DIR" \
             $((PORT + 10)) $((PORT + 11)) "$TMP/certs/cert.pem" \
             "$TMP/certs/key.pem") && [ -n "$pf_pid" ] \
        || die "postfix did not start (see $PF_DIR/maillog)"
    wait_port $((PORT + 10)) || die "postfix did not listen"
    measure postfix "$pf_pid" "$PF_DIR/mail" $((PORT + 10)) $((PORT + 11))
fi

echo
echo "$MSGS messages per run, $CLIENTS clients, $SIZE-byte messages," \
     "ECDSA P-256 certificate, $(nproc) cores; rates in messages/s"
/usr/bin/python3 "$HERE/summary.py" "$TMP/rows.tsv"
echo
printf '%-8s %6s %10s %10s %10s %10s %12s\n' server idle "RSS0 kB" "RSS1 kB" \
    "RSS kB/ses" "PSS kB/ses" "new clients"
printf '%s\n' "${IDLE_ROWS[@]}"
