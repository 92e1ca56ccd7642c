#!/usr/bin/env bash
# Two ftpd instances behind HAProxy on loopback, sharing one S3 bucket
# (versitygw, for files and token spends) and one token key.
#
#   contrib/cluster/run.sh      (from anywhere in the repository)
#
# Needs haproxy, curl (7.75+, for --aws-sigv4) and versitygw (on PATH or in
# $FTPD_PEERS_DIR/bin, default /opt/ftpd-peers/bin). Prints a URL, runs
# until Ctrl-C, then stops everything it started and removes its files.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
haproxy=$(command -v haproxy || echo /usr/sbin/haproxy)
[ -x "$haproxy" ] || { echo "run.sh: haproxy not found (apt-get install haproxy)" >&2; exit 1; }
command -v curl >/dev/null || { echo "run.sh: curl not found (apt-get install curl)" >&2; exit 1; }
versitygw=$(command -v versitygw || echo "${FTPD_PEERS_DIR:-/opt/ftpd-peers}/bin/versitygw")
if [ ! -x "$versitygw" ]; then
  echo "run.sh: versitygw not found on PATH or in ${FTPD_PEERS_DIR:-/opt/ftpd-peers}/bin; get it with:" >&2
  echo "  go install github.com/versity/versitygw/cmd/versitygw@v1.8.0" >&2
  exit 1
fi
s3addr=127.0.0.4:7070

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM   # background jobs ignore SIGINT: cleanup sends them TERM

wait_port() { # host port: until something listens (5 s)
  for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "run.sh: nothing listens on $1:$2; logs in $work:" >&2; tail -n 20 "$work"/*.log >&2; exit 1
}

(cd "$repo" && go build -o "$work/ftpd" ./cmd/ftpd)

# The store: versitygw on loopback, its posix root in $work, key k / secret s.
mkdir -p "$work/s3"
ROOT_ACCESS_KEY=k ROOT_SECRET_KEY=s "$versitygw" -p "$s3addr" -q posix "$work/s3" >"$work/versitygw.log" 2>&1 &
pids+=($!)
wait_port "${s3addr%:*}" "${s3addr#*:}"
curl -fsS --aws-sigv4 "aws:amz:us-east-1:s3" --user k:s -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X PUT "http://$s3addr/ftp" ||
  { echo "run.sh: could not create bucket ftp; logs in $work" >&2; exit 1; }
export AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY=s AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

# One token key for both instances (made here: neither races to create it).
(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/token.key")

for n in a b; do
  sed -e "s|@S3@|http://$s3addr|" -e "s|@KEY@|$work/token.key|" "$here/ftpd-$n.toml" >"$work/ftpd-$n.toml"
  "$work/ftpd" -config "$work/ftpd-$n.toml" >"$work/ftpd-$n.log" 2>&1 &
  pids+=($!)
done
"$haproxy" -db -f "$here/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
pids+=($!)

wait_port 127.0.0.2 2121
wait_port 127.0.0.3 2121
wait_port 127.0.0.4 2121
for pid in "${pids[@]}"; do
  kill -0 "$pid" 2>/dev/null || { echo "run.sh: a process exited; logs in $work:" >&2; tail -n 20 "$work"/*.log >&2; exit 1; }
done
echo "cluster up: ftp://alice:alice-pass@127.0.0.4:2121/"
echo "  e.g. curl -T file ftp://alice:alice-pass@127.0.0.4:2121/ ; curl ftp://alice:alice-pass@127.0.0.4:2121/"
echo "  one-use link: AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY=s $work/ftpd token -config $work/ftpd-a.toml -user alice -path /file -fxp send -uses 1"
echo "  store: versitygw at http://$s3addr (key k, secret s), bucket ftp; alice's files are under alice/"
echo "  logs: $work/ftpd-a.log $work/ftpd-b.log $work/haproxy.log $work/versitygw.log   (Ctrl-C stops everything)"
while :; do
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "run.sh: process $pid exited; stopping" >&2; exit 1; }
  done
  sleep 1
done
