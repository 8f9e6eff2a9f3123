#!/usr/bin/python3
"""summary.py ROWS.TSV -- the table that bench/run.sh prints at the end.

Each input line is one load run: server, mode, accepted, refused or unsent,
accepted/s, in-Maildir/s, server CPU ms/msg, client CPU ms/msg (tab
separated). Runs of the same server and mode are summarised by their median,
with the range of the in-Maildir rate, since a shared virtual machine's disk
and CPU vary from one run to the next.
"""
import statistics
import sys


def main(path):
    groups = {}
    with open(path) as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            groups.setdefault((cols[0], cols[1]), []).append(cols[2:])
    print("%-8s %-16s %4s %6s %6s %10s %19s %10s %9s" % (
        "server", "mode", "runs", "ok", "failed", "accepted/s",
        "in Maildir/s (range)", "CPU ms/msg", "client ms"))
    for (server, mode), runs in groups.items():
        col = [[float(r[i]) for r in runs] for i in range(6)]
        med = [statistics.median(c) for c in col]
        rng = "(%.0f-%.0f)" % (min(col[3]), max(col[3]))
        print("%-8s %-16s %4d %6d %6d %10.1f %7.1f %-11s %10.2f %9.2f" % (
            server, mode, len(runs), sum(col[0]), sum(col[1]), med[2],
            med[3], rng, med[4], med[5]))


if __name__ == "__main__":
    main(sys.argv[1])
