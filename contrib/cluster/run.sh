#!/usr/bin/env bash
# Two ftpd instances behind HAProxy on loopback, one shared root.
#
#   contrib/cluster/run.sh      (from anywhere in the repository)
#
# Prints a URL, runs until Ctrl-C, then stops everything it started.
# For now both instances share one os directory; once the S3 backend is
# merged this script starts versitygw and both instances use the bucket.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
haproxy=$(command -v haproxy || echo /usr/sbin/haproxy)
[ -x "$haproxy" ] || { echo "run.sh: haproxy not found (apt-get install haproxy)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM   # background jobs ignore SIGINT: cleanup sends them TERM

(cd "$repo" && go build -o "$work/ftpd" ./cmd/ftpd)
mkdir -p "$work/data/alice"   # the shared root (both instances)
for n in a b; do
  sed "s|@DATA@|$work/data|" "$here/ftpd-$n.toml" >"$work/ftpd-$n.toml"
  "$work/ftpd" -config "$work/ftpd-$n.toml" >"$work/ftpd-$n.log" 2>&1 &
  pids+=($!)
done
"$haproxy" -db -f "$here/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
pids+=($!)

for _ in $(seq 50); do
  if (exec 3<>/dev/tcp/127.0.0.4/2121) 2>/dev/null; then break; fi
  sleep 0.1
done
for pid in "${pids[@]}"; do
  kill -0 "$pid" 2>/dev/null || { echo "run.sh: a process exited; logs in $work:" >&2; tail -n 20 "$work"/*.log >&2; exit 1; }
done
echo "cluster up: ftp://alice:alice-pass@127.0.0.4:2121/"
echo "  e.g. curl -T file ftp://alice:alice-pass@127.0.0.4:2121/ ; curl ftp://alice:alice-pass@127.0.0.4:2121/"
echo "  logs: $work/ftpd-a.log $work/ftpd-b.log $work/haproxy.log   (Ctrl-C stops everything)"
while :; do
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "run.sh: process $pid exited; stopping" >&2; exit 1; }
  done
  sleep 1
done
