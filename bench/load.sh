#!/usr/bin/env bash
# Load test: latency and throughput of a ~3 KB chat request through
#   1. the static upstream directly (an nginx process answering a canned
#      completion),
#   2. a bare nginx reverse proxy, a second nginx process, in front of it,
#   3. the floor of Palisade's HTTP stack: the gateway crate's `proxy_floor`
#      example, the same runtime, HTTP server and pooled client as
#      `palisade serve` and nothing else (no parsing, routing, limits,
#      metrics or guardrails), so the rows below it show what Palisade's
#      own code costs and the row above it what the stack costs,
#   4. Palisade in front of it with guardrails off (route `policy = "off"`),
#   5. Palisade with the default `standard` guardrails: every input and
#      output detector on (injection, toxicity, secrets, personal data,
#      unicode smuggling, canary planted in the system prompt). Every
#      request is the same, so after the first one the input stage finds
#      the user message in its clean-text memo and does not scan it again;
#   6. the same, with every request's user message made unique (a request
#      number replaces its first bytes), so every request is scanned in
#      full: the worst case, and the cost of the detectors themselves.
# Prints a Markdown table for BENCHMARKS.md. Everything listens on 127.0.0.1
# only; each wrk run is bounded in time.
#
# Usage: [PALISADE_BIN=path] bench/load.sh [DURATION_SECONDS] [ROUNDS]     (needs nginx and wrk: apt-get install nginx-light wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
rounds="${2:-1}"
for tool in nginx wrk; do
  command -v "$tool" >/dev/null || { echo "$tool is required: apt-get install nginx-light wrk" >&2; exit 2; }
done

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pidfile in "$work/nginx.pid" "$work/upstream.pid"; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

upstream_port=18181 proxy_port=18182 palisade_port=18183 bare_port=18184 floor_port=18185

# A canned chat completion, as an upstream model would answer.
reply='{"id":"chatcmpl-bench","object":"chat.completion","created":0,"model":"bench","choices":[{"index":0,"message":{"role":"assistant","content":"This is a fixed answer from the static upstream used for load testing."},"finish_reason":"stop"}],"usage":{"prompt_tokens":600,"completion_tokens":14,"total_tokens":614}}'

# Two nginx processes: the static upstream, and the bare proxy in front of
# it. They must be separate processes. If one nginx worker both proxied and
# answered, its upstream hop would never leave the process or wait for
# another one to wake up. Palisade's hop always does both. On a VM with idle
# vCPUs, that wake-up alone is tens of microseconds (BENCHMARKS.md, fifth
# session).
cat > "$work/upstream.conf" <<NGINX
worker_processes 1;
pid $work/upstream.pid;
error_log $work/upstream-error.log warn;
daemon on;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$upstream_port;
    location / { default_type application/json; return 200 '$reply'; }
  }
}
NGINX
cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log warn;
daemon on;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_buffer_size 64k;
  upstream static_upstream { server 127.0.0.1:$upstream_port; keepalive 64; }
  server {
    listen 127.0.0.1:$proxy_port;
    location / {
      proxy_pass http://static_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
NGINX
nginx -c "$work/upstream.conf" -p "$work"
nginx -c "$work/nginx.conf" -p "$work"

# PALISADE_BIN runs another build (e.g. an older commit's, for an A/B
# comparison on the same machine) instead of building this checkout's.
if [ -n "${PALISADE_BIN:-}" ]; then
  palisade="$PALISADE_BIN"
else
  cargo build --release --quiet -p palisade
  palisade=target/release/palisade
fi
if [ -n "${PROXY_FLOOR_BIN:-}" ]; then
  floor="$PROXY_FLOOR_BIN"
else
  cargo build --release --quiet -p palisade-gateway --example proxy_floor
  floor=target/release/examples/proxy_floor
fi
cat > "$work/palisade.toml" <<TOML
[server]
listen = "127.0.0.1:$palisade_port"
data_dir = "$work/palisade-data"
[[upstreams]]
name = "static"
base_url = "http://127.0.0.1:$upstream_port/v1"
[[routes]]
models = ["*"]
upstreams = ["static"]
allow_plain_http = true
TOML
sed -e "s/$palisade_port/$bare_port/" -e "s#palisade-data#palisade-data-bare#" "$work/palisade.toml" > "$work/bare.toml"
echo 'policy = "off"' >> "$work/bare.toml"
PALISADE_LOG=warn "$palisade" serve --config "$work/palisade.toml" > "$work/palisade.out" 2>&1 &
pids+=($!)
PALISADE_LOG=warn "$palisade" serve --config "$work/bare.toml" > "$work/bare.out" 2>&1 &
pids+=($!)
"$floor" "127.0.0.1:$floor_port" "http://127.0.0.1:$upstream_port/v1/chat/completions" > "$work/floor.out" 2>&1 &
pids+=($!)
for out in palisade bare floor; do
  for _ in $(seq 100); do grep -q "listening" "$work/$out.out" 2>/dev/null && break; sleep 0.1; done
done

# A ~3 KB chat request: a system prompt and a long user message.
python3 - "$work/body.json" "$work/unique.json" <<'PY'
import json, sys
filler = ("Please summarise the following meeting notes for the project team, keeping the action items "
          "and owners, and flag anything that looks like a risk to the delivery date. ") * 20
body = {"model": "bench-model", "messages": [
    {"role": "system", "content": "You are a careful assistant for an engineering team."},
    {"role": "user", "content": filler[:2950]}], "temperature": 0.2}
open(sys.argv[1], "w").write(json.dumps(body))
# The same request with a marker where each request's number goes.
body["messages"][1]["content"] = "@@N@@" + filler[12:2950]
open(sys.argv[2], "w").write(json.dumps(body))
PY
cat > "$work/post.lua" <<LUA
local f = io.open("$work/body.json", "r")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
LUA
# Unique bodies: each wrk thread numbers its requests; the thread id keeps
# two threads from sending the same number.
cat > "$work/unique.lua" <<LUA
local f = io.open("$work/unique.json", "r")
local template = f:read("*a")
f:close()
local head, tail = template:match("^(.-)@@N@@(.*)$")
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
function request()
  n = n + 1
  return wrk.format(nil, nil, nil, head .. string.format("%02d%010d", id or 0, n) .. tail)
end
LUA
body_bytes=$(wc -c < "$work/body.json")

# Sanity: every target answers 200 to the request.
for port in $upstream_port $proxy_port $floor_port $bare_port $palisade_port; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' --data-binary "@$work/body.json" "http://127.0.0.1:$port/v1/chat/completions")
  [ "$code" = 200 ] || { echo "target on port $port answered $code" >&2; exit 1; }
done

# wrk --latency prints "50%  123.00us"; normalise to microseconds.
to_us() { awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); print v } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v*1000 } else if (v ~ /s$/) { sub(/s$/,"",v); print v*1000000 } }'; }
run() { # port connections threads [script] -> "p50 p99 rps"
  local out
  out=$(wrk -t"$3" -c"$2" -d"${duration}s" --latency -s "${4:-$work/post.lua}" "http://127.0.0.1:$1/v1/chat/completions")
  local p50 p99 rps errors
  p50=$(echo "$out" | awk '$1=="50%"{print $2}' | to_us)
  p99=$(echo "$out" | awk '$1=="99%"{print $2}' | to_us)
  rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  errors=$(echo "$out" | awk '/Non-2xx/{print $NF}')
  [ -z "$errors" ] || { echo "non-2xx responses on port $1: $errors" >&2; exit 1; }
  echo "$p50 $p99 $rps"
}

# Each round measures every target once, in order, so a round's targets
# see about the same machine; the goal figures compare each target with the
# same round's nginx and report the median over rounds, with the range.
declare -A p50 p99 rps1 rps32
targets="direct nginx hyper-floor palisade-off palisade palisade-unique"
for round in $(seq "$rounds"); do
  for target in $targets; do
    script="$work/post.lua"
    case $target in direct) port=$upstream_port;; nginx) port=$proxy_port;; hyper-floor) port=$floor_port;; palisade-off) port=$bare_port;; palisade) port=$palisade_port;;
      palisade-unique) port=$palisade_port; script="$work/unique.lua";; esac
    read -r a b c < <(run "$port" 1 1 "$script")
    p50[$target]+="$a "; p99[$target]+="$b "; rps1[$target]+="$c "
    read -r _ _ d < <(run "$port" 32 2 "$script")
    rps32[$target]+="$d "
  done
done

# median of the numbers given as arguments
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{ if (NR % 2) printf "%.0f\n", v[(NR+1)/2]; else printf "%.0f\n", (v[NR/2]+v[NR/2+1])/2 }'; }

cpu=$(lscpu | awk -F: '/Model name/{gsub(/^ +/,"",$2); print $2; exit}')
echo "Machine: $cpu, $(nproc) cores; request body $body_bytes bytes; ${duration}s per run; $rounds round(s), medians shown; $(date -u +%F)"
echo
echo "| target | p50 latency, 1 conn (µs) | p99 latency, 1 conn (µs) | req/s, 1 conn | req/s, 32 conns |"
echo "|---|---:|---:|---:|---:|"
for target in $targets; do
  # shellcheck disable=SC2086 # the lists are space-separated numbers
  printf '| %s | %.0f | %.0f | %.0f | %.0f |\n' "$target" "$(median ${p50[$target]})" "$(median ${p99[$target]})" "$(median ${rps1[$target]})" "$(median ${rps32[$target]})"
done
echo
# " (rounds: LOW to HIGH)" when the rounds disagree, else nothing
range() { printf '%s\n' "$@" | sort -g | awk 'NR==1{lo=$1} {hi=$1} END{ if (lo == hi) print ""; else printf " (rounds: %s to %s)", lo, hi }'; }
read -r -a nginx_p50 <<< "${p50[nginx]}"
read -r -a nginx_rps <<< "${rps32[nginx]}"
for target in hyper-floor palisade-off palisade palisade-unique; do
  read -r -a t_p50 <<< "${p50[$target]}"
  read -r -a t_rps <<< "${rps32[$target]}"
  added=() ratio=()
  for i in "${!t_p50[@]}"; do
    added+=("$(awk -v a="${t_p50[$i]}" -v b="${nginx_p50[$i]}" 'BEGIN{printf "%.0f", a-b}')")
    ratio+=("$(awk -v a="${t_rps[$i]}" -v b="${nginx_rps[$i]}" 'BEGIN{printf "%.0f", 100*a/b}')")
  done
  echo "$target adds $(median "${added[@]}") µs at p50 over the bare nginx proxy$(range "${added[@]}") and reaches $(median "${ratio[@]}")% of its throughput at 32 connections$(range "${ratio[@]}")."
done
