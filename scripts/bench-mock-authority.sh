#!/usr/bin/env bash
# Benchmark of mock-authority (not run in CI): client-credential responses per second over
# keep-alive HTTPS, ES256 and RS256, next to the raw aws-lc-rs signing rate on the same
# cores and next to npm `oauth2-mock-server` driven by the same load tool with the same
# signing algorithm and the same TLS certificate. Prints the ratios.
#
#   scripts/bench-mock-authority.sh            # 10 s per measurement, 64 connections
#   BENCH_SECONDS=5 BENCH_CONNECTIONS=32 scripts/bench-mock-authority.sh
#   BENCH_MOCK_ARGS="--threads 2" scripts/bench-mock-authority.sh   # extra `serve` flags
#
# The load tool is `mock-authority bench` (hyper client, rustls, many keep-alive
# connections), a separate process from the server; both share the machine's cores.
#
# Last measured 2026-11-22 on the shared 2-vCPU dev machine (AMD EPYC; other engineers'
# builds and benches running, load average 3.2), 10 s per run, 64 keep-alive HTTPS
# connections, load tool and server both on the same 2 vCPUs:
#
#   alg     raw/s  raw/CPU-s  mock/s  mock/CPU-s  o2m/s  o2m/CPU-s  mock/raw (CPU)  mock/o2m (CPU)
#   ES256  70,354     43,882  15,085      20,726  1,794      1,768     21%   (47%)    8.4x  (11.7x)
#   RS256   2,739      1,502   2,598       1,416    855        684     95%   (94%)    3.0x   (2.1x)
#
# Quiet machine (no other builds; load average 1.0-1.8 from this bench itself), 5 s per
# run, same 64 connections, 2026-11-22 05:57 UTC — all four targets met:
#   ES256 104,542     53,285  30,164      22,736  2,188      1,783     29%   (43%)   13.8x  (12.8x)
#   RS256   3,008      1,493   2,674       1,412  1,395        706     89%   (95%)    1.9x   (2.0x)
#
# (/CPU-s = per CPU-second of the server process, or of the signing threads for raw.) Same
# run with `--threads 2`: ES256 15,222/s (21,252/CPU-s), RS256 1,753/s vs raw 1,602/s. In
# quiet moments the ES256 figure reached 25,600-27,400/s (server ~47 us CPU per response,
# load tool ~20 us). ES256 misses the 30,000/s target on this machine: one ES256 signature
# costs ~20 us of CPU here, the rest of a response (TLS, HTTP/1.1, loopback TCP syscalls)
# ~27 us, and the load tool shares the same two vCPUs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
secs=${BENCH_SECONDS:-10}
conns=${BENCH_CONNECTIONS:-64}
o2m_version=${OAUTH2_MOCK_SERVER_VERSION:-9}

say() { printf '\n==> %s\n' "$*" >&2; }

say "building mock-authority (release)"
cargo build --release -q -p mock-authority
bin="$root/target/release/mock-authority"

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

say "TLS: one CA and one server certificate (P-256) for both servers"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=bench-ca -keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost \
  -keyout "$tmp/key.pem" -out "$tmp/req.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$tmp/ext"
openssl x509 -req -in "$tmp/req.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
  -days 1 -extfile "$tmp/ext" -out "$tmp/cert.pem" 2>/dev/null

say "installing oauth2-mock-server@$o2m_version into a temp dir"
(cd "$tmp" && npm init -y >/dev/null 2>&1 &&
  npm install --no-audit --no-fund --loglevel=error "oauth2-mock-server@$o2m_version" >/dev/null)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }
field() { python3 -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['$1'])"; }
# CPU seconds (user + system) a process has used so far.
cpu_of() { python3 -c "import sys; f=open('/proc/$1/stat').read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/100)"; }
load() { "$bin" bench --url "$1" --ca "$tmp/ca.pem" --connections "$conns" --seconds "$secs" ${2:+--body "$2"}; }

# Runs the load against a server (pid $1, url $2, optional body $3); prints
# "responses_per_second responses_per_server_cpu_second".
measure() {
  local c0 c1 out
  c0=$(cpu_of "$1")
  out=$(load "$2" "${3:-}")
  c1=$(cpu_of "$1")
  python3 - "$c0" "$c1" "$out" <<'PY'
import json, sys
c0, c1, out = float(sys.argv[1]), float(sys.argv[2]), json.loads(sys.argv[3].strip().splitlines()[-1])
print(int(out["per_second"]), int(out["total_ok_with_warm_up"] / max(c1 - c0, 1e-9)))
PY
}

declare -A raw raw_cpu mock mock_cpu o2m o2m_cpu
for alg in ES256 RS256; do
  say "raw aws-lc-rs $alg signing, 2 threads"
  r=$("$bin" bench --raw-sign "$alg" --threads 2 --seconds "$secs")
  raw[$alg]=$(field per_second <<<"$r"); raw_cpu[$alg]=$(field per_cpu_second <<<"$r")

  say "mock-authority $alg"
  port=$(free_port)
  "$bin" serve --listen "127.0.0.1:$port" --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" --signing "$alg" ${BENCH_MOCK_ARGS:-} >"$tmp/mock.log" 2>&1 &
  pid=$!; pids+=("$pid"); wait_port "$port"
  read -r mock[$alg] mock_cpu[$alg] < <(measure "$pid" "https://127.0.0.1:$port/t1/oauth2/v2.0/token")
  kill "$pid"; wait "$pid" 2>/dev/null || true

  say "oauth2-mock-server $alg"
  port=$(free_port)
  node scripts/bench/oauth2-mock-server.mjs "$tmp/node_modules" "$alg" "$port" "$tmp/key.pem" "$tmp/cert.pem" >"$tmp/o2m.log" 2>&1 &
  pid=$!; pids+=("$pid"); wait_port "$port"
  read -r o2m[$alg] o2m_cpu[$alg] < <(measure "$pid" "https://127.0.0.1:$port/token" "grant_type=client_credentials&scope=api%3A%2F%2Fbench%2F.default")
  kill "$pid"; wait "$pid" 2>/dev/null || true
done

printf '\nmock-authority benchmark: %s vCPUs (%s), %s s per run, %s keep-alive HTTPS connections, load average %s\n' \
  "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" "$secs" "$conns" "$(cut -d' ' -f1-3 /proc/loadavg)"
echo "per second: wall-clock rate (all processes share the cores); per CPU-s: per CPU-second of the server process (or of the signing threads)"
printf '%-6s %12s %12s %12s %12s %12s %12s | %9s %9s | %9s %9s\n' alg raw/s raw/CPU-s mock/s mock/CPU-s o2m/s o2m/CPU-s mock/raw "(CPU)" mock/o2m "(CPU)"
for alg in ES256 RS256; do
  python3 - "$alg" "${raw[$alg]}" "${raw_cpu[$alg]}" "${mock[$alg]}" "${mock_cpu[$alg]}" "${o2m[$alg]}" "${o2m_cpu[$alg]}" <<'PY'
import sys
alg, raw, rawc, mock, mockc, o2m, o2mc = sys.argv[1], *map(float, sys.argv[2:])
d = lambda a, b: a / b if b else 0.0
print(f"{alg:<6} {raw:>12,.0f} {rawc:>12,.0f} {mock:>12,.0f} {mockc:>12,.0f} {o2m:>12,.0f} {o2mc:>12,.0f} | {d(mock, raw):>9.0%} {d(mockc, rawc):>9.0%} | {d(mock, o2m):>8.1f}x {d(mockc, o2mc):>8.1f}x")
PY
done
echo "targets: ES256 mock/s >= 30,000; RS256 mock/raw >= 80%; mock/o2m >= 5x (ES256), >= 1.6x (RS256)"
