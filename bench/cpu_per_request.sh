#!/usr/bin/env bash
# CPU time one server process spends per request: user and system
# microseconds, read from /proc/PID/stat (utime, stime) before and after a
# wrk run against it, divided by the requests wrk completed. Latency tells
# what a client waits; this tells what the server itself spent, which on a
# small VM separates a server's own work from time spent waiting on the
# other processes of the benchmark.
#
# Usage: bench/cpu_per_request.sh PID URL BODY_LUA [CONNECTIONS] [SECONDS]
#   e.g. with bench/load.sh's post.lua and a running `palisade serve`:
#   bench/cpu_per_request.sh "$(pgrep -f 'palisade serve')" \
#     http://127.0.0.1:18183/v1/chat/completions post.lua 1 5
set -euo pipefail
pid="$1" url="$2" script="$3" conns="${4:-1}" secs="${5:-5}"
command -v wrk >/dev/null || { echo "wrk is required: apt-get install wrk" >&2; exit 2; }
[ -r "/proc/$pid/stat" ] || { echo "no process $pid" >&2; exit 2; }
threads=2
[ "$conns" -lt 2 ] && threads=1
# Fields 14 and 15 of /proc/PID/stat, counted after the command name, which
# may hold spaces: strip everything up to its closing parenthesis first.
times() { sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12, $13}'; }
read -r u0 s0 < <(times)
out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" --latency -s "$script" "$url")
read -r u1 s1 < <(times)
requests=$(echo "$out" | awk '/requests in/{print $1}')
p50=$(echo "$out" | awk '$1=="50%"{print $2}')
[ "${requests:-0}" -gt 0 ] || { echo "wrk completed no request" >&2; exit 1; }
awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v n="$requests" -v hz="$(getconf CLK_TCK)" -v p="$p50" -v c="$conns" \
  'BEGIN { printf "%d connection(s): %d requests, p50 %s, user %.1f µs/request, system %.1f µs/request\n", c, n, p, u * 1e6 / hz / n, s * 1e6 / hz / n }'
