#!/usr/bin/env bash
# Sealbox's HTTP benchmark. Usage, from anywhere: bash bench/run.sh
#
# Builds Sealbox and a bare axum baseline in release mode, starts both on loopback (Sealbox on a
# fresh data directory: embedded SQLite, default logging), and runs wrk against, in this order:
#   baseline GET /, (a) reveal, (b) details, (c) creates, (d) updates, baseline GET / again.
# Writes bench/RESULTS.md (the raw wrk output and server logs stay in a temp dir, printed at the end).
# Both servers are stopped on exit.
#
# Knobs (environment): BENCH_DURATION (10s), BENCH_CONNECTIONS (64), BENCH_THREADS (2).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DURATION=${BENCH_DURATION:-10s}
# Which code is measured, taken before this script writes RESULTS.md (which would count as a change).
GIT_DESC="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$( [[ -n "$(git status --porcelain -- . ':!bench/RESULTS.md' 2>/dev/null)" ]] && echo ' + uncommitted changes' || true)"
CONNECTIONS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
LUA="bench/lua"
RESULTS="bench/RESULTS.md"
# 64 characters, the size of every value written or read.
VALUE="0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# --- tools ------------------------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
    log "installing wrk"
    apt-get update -qq && apt-get install -y -qq wrk
fi
command -v curl >/dev/null 2>&1 || die "curl is required"

log "building (release)"
cargo build --release -p sealbox-cli -p sealbox-bench-baseline
SEALBOX="$ROOT/target/release/sealbox"
BASELINE="$ROOT/target/release/sealbox-bench-baseline"

# --- servers ----------------------------------------------------------------------------------
WORK=$(mktemp -d -t sealbox-bench.XXXXXX)
DATA_DIR="$WORK/data"
mkdir -p "$DATA_DIR"
BASELINE_PID=""
SEALBOX_PID=""

stop() { # pid
    local pid=$1 i
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    stop "$SEALBOX_PID"
    stop "$BASELINE_PID"
    rm -rf "$DATA_DIR" # holds the root key and the owner's credentials
    if [[ $rc -ne 0 ]]; then
        printf 'bench: failed (exit %s); logs and wrk output are in %s\n' "$rc" "$WORK" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT

# Waits until the server's stdout shows `<pattern>http://ADDR` and prints http://ADDR.
wait_for_url() { # name pid stdout-file pattern
    local name=$1 pid=$2 out=$3 pattern=$4 i url
    for i in $(seq 1 300); do
        url=$(grep -m1 -o "${pattern}http://[0-9.:]*" "$out" 2>/dev/null | grep -o 'http://.*' || true)
        if [[ -n "$url" ]]; then
            printf '%s\n' "$url"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || die "$name exited before listening; see $WORK"
        sleep 0.1
    done
    die "$name did not start listening within 30 s; see $WORK"
}

log "starting the baseline"
"$BASELINE" 127.0.0.1:0 >"$WORK/baseline.out" 2>"$WORK/baseline.err" &
BASELINE_PID=$!
BASELINE_URL=$(wait_for_url baseline "$BASELINE_PID" "$WORK/baseline.out" '^listening on ')

log "starting sealbox"
"$SEALBOX" server --listen 127.0.0.1:0 --data-dir "$DATA_DIR" >"$WORK/sealbox.out" 2>"$WORK/sealbox.err" &
SEALBOX_PID=$!
SEALBOX_URL=$(wait_for_url sealbox "$SEALBOX_PID" "$WORK/sealbox.out" '^sealbox listening on ')
log "baseline at $BASELINE_URL, sealbox at $SEALBOX_URL"

[[ -f "$DATA_DIR/bootstrap.json" ]] || die "no $DATA_DIR/bootstrap.json"
TOKEN=$(tr -d '\n' <"$DATA_DIR/bootstrap.json" | sed -n 's/.*"token"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
[[ -n "$TOKEN" ]] || die "no token in bootstrap.json"
AUTH="Authorization: Bearer $TOKEN"

# One request with curl; prints `STATUS BODY`.
call() { # method path [body]
    local method=$1 path=$2 body=${3-}
    local args=(-sS -o "$WORK/curl.body" -w '%{http_code}' -X "$method" -H "$AUTH")
    [[ -n "$body" ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    local status
    status=$(curl "${args[@]}" "$SEALBOX_URL$path")
    printf '%s %s\n' "$status" "$(head -c 2000 "$WORK/curl.body")"
}

log "creating the secret BENCH"
created=$(call POST /v1/secrets "{\"name\":\"BENCH\",\"type\":\"text\",\"value\":\"$VALUE\"}")
[[ "$created" == 201\ * ]] || die "POST /v1/secrets (BENCH) answered: $created"
revealed=$(call POST /v1/secrets/BENCH/reveal '{}')
[[ "$revealed" == 200\ *"$VALUE"* ]] || die "POST /v1/secrets/BENCH/reveal answered: $revealed"

# Sends the same request 32 times at once (errors under load often need concurrency to show) and
# prints the statuses seen and the first non-2xx answer, if any. `@N` in the body becomes 1..32.
burst() { # method path [body]
    local method=$1 path=$2 body=${3-} i dir="$WORK/burst"
    rm -rf "$dir" && mkdir -p "$dir"
    for i in $(seq 1 32); do
        local args=(-sS -o "$dir/$i.body" -w '%{http_code}\n' -X "$method" -H "$AUTH")
        [[ -n "$body" ]] && args+=(-H 'Content-Type: application/json' --data-binary "${body//@N/$i}")
        curl "${args[@]}" "$SEALBOX_URL$path" >"$dir/$i.status" 2>&1 &
    done
    wait
    local statuses first=""
    statuses=$(cat "$dir"/*.status | sort | uniq -c | awk '{printf "%s%s×%s", (NR > 1 ? ", " : ""), $2, $1}')
    for i in $(seq 1 32); do
        if [[ "$(cat "$dir/$i.status")" != 2* ]]; then
            first="; first non-2xx: $(cat "$dir/$i.status") $(head -c 1000 "$dir/$i.body")"
            break
        fi
    done
    printf '%s %s ×32 concurrently → %s%s\n' "$method" "$path" "$statuses" "$first"
}

# --- scenarios --------------------------------------------------------------------------------
export BENCH_RUN_TAG
BENCH_RUN_TAG=$(date +%s)
WRK_COMMAND="wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency -s bench/lua/<scenario>.lua [-H 'Authorization: Bearer \$TOKEN'] <url>"

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
declare -a ORDER=()
declare -A TITLE=() RPS=() P50=() P90=() P99=() MAXL=() NON2XX=() SOCKERR=() REQS=() STATUSES=() PROBE=() OK_RPS=() PRESSURE=() WARNS=()

# Counts the statuses Sealbox logged (tower-http's `status=NNN`) in its log from line $1 on.
statuses_since() { # first-line
    tail -n +"$1" "$WORK/sealbox.err" | sed 's/\x1b\[[0-9;]*m//g' | grep -o 'status=[0-9]*' |
        sort | uniq -c | awk '{printf "%s%s×%s", (NR > 1 ? ", " : ""), substr($2, 8), $1}' || true
}

# Cumulative microseconds some task stalled on a resource (Linux PSI), or nothing.
psi_total() { # cpu|io
    sed -n 's/^some .*total=\([0-9]*\)$/\1/p' "/proc/pressure/$1" 2>/dev/null || true
}
now_us() { echo $(($(date +%s%N) / 1000)); }

field() { # line key
    sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"
}

scenario() { # key title script url auth(yes/no) probe-method probe-path probe-body
    local key=$1 title=$2 script=$3 url=$4 auth=$5
    local args=(-t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$LUA/$script")
    [[ "$auth" == yes ]] && args+=(-H "$AUTH")
    local first_line
    first_line=$(($(wc -l <"$WORK/sealbox.err") + 1))
    log "$title"
    local t0 cpu0 io0 t1 cpu1 io1
    t0=$(now_us) cpu0=$(psi_total cpu) io0=$(psi_total io)
    wrk "${args[@]}" "$url" >"$WORK/wrk-$key.txt" 2>&1 || die "wrk failed on $key: $(cat "$WORK/wrk-$key.txt")"
    t1=$(now_us) cpu1=$(psi_total cpu) io1=$(psi_total io)
    if [[ -n "$cpu0" && -n "$cpu1" && -n "$io0" && -n "$io1" ]]; then
        PRESSURE[$key]=$(awk "BEGIN { printf \"cpu %.0f%%, io %.0f%%\", 100*($cpu1-$cpu0)/($t1-$t0), 100*($io1-$io0)/($t1-$t0) }")
    fi
    WARNS[$key]=$(tail -n +"$first_line" "$WORK/sealbox.err" | grep -c -E 'WARN|ERROR' || true)
    sed 's/^/    /' "$WORK/wrk-$key.txt" >&2
    local line
    line=$(grep -m1 '^RESULT ' "$WORK/wrk-$key.txt") || die "no RESULT line from wrk on $key"
    ORDER+=("$key")
    TITLE[$key]=$title
    REQS[$key]=$(field "$line" requests)
    RPS[$key]=$(field "$line" rps)
    P50[$key]=$(field "$line" p50_ms)
    P90[$key]=$(field "$line" p90_ms)
    P99[$key]=$(field "$line" p99_ms)
    MAXL[$key]=$(field "$line" max_ms)
    NON2XX[$key]=$(field "$line" non2xx)
    OK_RPS[$key]=$(awk "BEGIN { printf \"%.1f\", ${RPS[$key]} * (${REQS[$key]} - ${NON2XX[$key]}) / ${REQS[$key]} }")
    SOCKERR[$key]=$(($(field "$line" connect) + $(field "$line" read) + $(field "$line" write) + $(field "$line" timeout)))
    if [[ "$auth" == yes ]]; then
        STATUSES[$key]=$(statuses_since "$first_line")
    fi
    # Non-2xx answers mean the scenario measured errors: ask once more by hand and keep the answer.
    if [[ "${NON2XX[$key]}" != 0 && $# -ge 7 ]]; then
        PROBE[$key]=$(burst "$6" "$7" "${8-}")
        log "non-2xx on $key: ${NON2XX[$key]}; by hand: ${PROBE[$key]}"
    fi
}

scenario baseline1 "baseline: GET / (bare axum)" baseline.lua "$BASELINE_URL/" no
scenario a "(a) POST /v1/secrets/BENCH/reveal" reveal.lua "$SEALBOX_URL/v1/secrets/BENCH/reveal" yes \
    POST /v1/secrets/BENCH/reveal '{}'
scenario b "(b) GET /v1/secrets/BENCH" get.lua "$SEALBOX_URL/v1/secrets/BENCH" yes \
    GET /v1/secrets/BENCH
scenario c "(c) POST /v1/secrets (a new name each)" create.lua "$SEALBOX_URL/v1/secrets" yes \
    POST /v1/secrets "{\"name\":\"B_probe_${BENCH_RUN_TAG}_@N\",\"type\":\"text\",\"value\":\"$VALUE\"}"
scenario d "(d) PATCH /v1/secrets/BENCH (new version)" update.lua "$SEALBOX_URL/v1/secrets/BENCH" yes \
    PATCH /v1/secrets/BENCH "{\"value\":\"$VALUE\"}"

log "creating, in a workspace of its own, the identity bench-env and 100 secrets its policy lets it read"
expect_status() { # status line-from-call what
    [[ "$2" == "$1"\ * ]] || die "$3 answered: $2"
}
# (c) left tens of thousands of secrets in the default workspace; (e) is about an identity with
# 100 readable secrets, so it gets a workspace holding just those.
OWNER_AUTH=$AUTH
WS_TOKEN=$(call POST /v1/workspaces '{"name":"bench-env"}' | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[[ -n "$WS_TOKEN" ]] || die "no token for the workspace bench-env"
AUTH="Authorization: Bearer $WS_TOKEN"
expect_status 201 "$(call POST /v1/identities '{"name":"bench-env","tags":{"team":"bench"}}')" "POST /v1/identities"
expect_status 201 "$(call POST /v1/policies '{"name":"bench-read","identity_tags":{"team":"bench"},"secret_tags":{"team":"bench"},"allow":["read"]}')" "POST /v1/policies"
for i in $(seq 1 100); do
    expect_status 201 "$(call POST /v1/secrets "{\"name\":\"ENV_$i\",\"type\":\"text\",\"value\":\"$VALUE\",\"tags\":{\"team\":\"bench\"}}")" "POST /v1/secrets ENV_$i"
done
ID_TOKEN=$(call POST /v1/identities/bench-env/tokens '{"name":"bench"}' | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[[ -n "$ID_TOKEN" ]] || die "no identity token"
AUTH="Authorization: Bearer $ID_TOKEN"
env_count=$(curl -sS -H "$AUTH" "$SEALBOX_URL/v1/environment" | grep -o '"ENV_[0-9]*"' | wc -l)
[[ "$env_count" == 100 ]] || die "the identity's environment holds $env_count secrets, not 100"
scenario e "(e) GET /v1/environment (identity, 100 readable secrets)" env.lua "$SEALBOX_URL/v1/environment" yes \
    GET /v1/environment
AUTH=$OWNER_AUTH

# (f): the wall time `sealbox run -- true` adds to `true`, as the identity (100 secrets to inject).
log "(f) sealbox run -- true against true, 30 runs each"
mean_ms() { # command...
    local start end
    start=$(date +%s%N)
    for _ in $(seq 1 30); do "$@" >/dev/null; done
    end=$(date +%s%N)
    awk "BEGIN { printf \"%.1f\", ($end - $start) / 30 / 1000000 }"
}
TRUE_MS=$(mean_ms true)
RUN_MS=$(SEALBOX_ADDR=$SEALBOX_URL SEALBOX_TOKEN=$ID_TOKEN mean_ms "$SEALBOX" run -- true)
ADDED_MS=$(awk "BEGIN { printf \"%.1f\", $RUN_MS - $TRUE_MS }")
log "(f) true: $TRUE_MS ms, sealbox run -- true: $RUN_MS ms, added: $ADDED_MS ms"

scenario baseline2 "baseline again: GET / (bare axum)" baseline.lua "$BASELINE_URL/" no

# Sanity: the updates made versions, the creates made secrets.
final_version=$(call GET /v1/secrets/BENCH | sed -n 's/.*"version":\([0-9]*\).*/\1/p')

stop "$SEALBOX_PID"
SEALBOX_PID=""
stop "$BASELINE_PID"
BASELINE_PID=""

# --- report -----------------------------------------------------------------------------------
calc() { awk "BEGIN { $1 }"; }
BASE_MEAN=$(calc "printf \"%.1f\", (${RPS[baseline1]} + ${RPS[baseline2]}) / 2")
BASE_SPREAD=$(calc "a=${RPS[baseline1]}; b=${RPS[baseline2]}; d=a-b; if (d<0) d=-d; printf \"%.1f\", 100*d/((a+b)/2)")
commas() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; } # 12345 -> 12,345 (integers only)
int() { calc "printf \"%d\", $1 + 0.5" | commas; }

# target_ratio key min-ratio / target_rps key min-rps: "met"/"missed" and by how much.
target_ratio() {
    calc "r = ${OK_RPS[$1]} / $BASE_MEAN; t = $2;
          printf \"%s: %.1f%% of the baseline vs %.0f%% (%+.1f points; %.2f× the target)\",
                 (r >= t ? \"**met**\" : \"**missed**\"), 100*r, 100*t, 100*(r - t), r / t"
}
target_rps() {
    calc "r = ${OK_RPS[$1]}; t = $2;
          printf \"%s: %.0f req/s vs %.0f (%+.0f req/s, %+.1f%%)\",
                 (r >= t ? \"**met**\" : \"**missed**\"), r, t, r - t, 100*(r - t)/t" | commas
}

CPU=$(sed -n '/^model name/{s/^model name[[:space:]]*:[[:space:]]*//p;q}' /proc/cpuinfo)
MEM=$(free -g | awk '/^Mem:/ { print $2 }')
{
    echo "# Sealbox HTTP benchmark"
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "- Machine: $(nproc) CPUs ($CPU), ${MEM} GiB RAM (\`free -g\` total), kernel $(uname -r);"
    echo "  load average before the first scenario: $LOAD_START"
    echo "- Sealbox: \`target/release/sealbox server --listen 127.0.0.1:0 --data-dir <fresh temp dir>\`"
    echo "  (embedded SQLite, default log level: one INFO line per request to stderr, sent to a file),"
    echo "  git $GIT_DESC"
    echo "- Baseline: \`target/release/sealbox-bench-baseline 127.0.0.1:0\` (bare axum, \`GET /\` answers 64 bytes)"
    echo "- Command: \`bash bench/run.sh\`; each scenario runs"
    echo "  \`$WRK_COMMAND\`"
    echo "  on the same machine as the servers (wrk and the server share the CPUs), in the order below."
    echo "  Values are 64 characters. (c) names are \`B_<run>_<thread>_<n>\`; (d) sends \`{\"value\": ...}\` without \`expected_version\`."
    echo
    echo "| scenario | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | socket errors | 2xx req/s | × baseline |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for key in "${ORDER[@]}"; do
        ratio=$(calc "printf \"%.3f\", ${OK_RPS[$key]} / $BASE_MEAN")
        echo "| ${TITLE[$key]} | ${REQS[$key]} | $(int "${RPS[$key]}") | ${P50[$key]} | ${P90[$key]} | ${P99[$key]} | ${MAXL[$key]} | ${NON2XX[$key]} | ${SOCKERR[$key]} | $(int "${OK_RPS[$key]}") | $ratio |"
    done
    echo
    echo "Baseline mean: $(int "$BASE_MEAN") req/s; the two baseline runs differ by ${BASE_SPREAD}% of their mean"
    echo "(a rough measure of this machine's noise). Ratios are to the mean."
    echo "\"non-2xx\" is wrk's count of answers with status ≥ 400; socket errors are wrk's connect, read, write and timeout errors."
    echo "\"2xx req/s\" counts successful answers only; the ratio to the baseline and the targets use it (an error is not throughput)."
    echo
    echo "Statuses Sealbox logged during each scenario (from its request log):"
    echo
    for key in a b c d; do
        echo "- ${TITLE[$key]}: ${STATUSES[$key]:-(none found in the log)}"
    done
    echo
    echo "Machine pressure during each scenario (Linux PSI \"some\": share of wall time in which some task waited"
    echo "for a CPU / for I/O; other work on the machine shows up here), and WARN/ERROR lines in Sealbox's log:"
    echo
    for key in "${ORDER[@]}"; do
        echo "- ${TITLE[$key]}: ${PRESSURE[$key]:-n/a}; Sealbox log: ${WARNS[$key]} WARN/ERROR lines"
    done
    if grep -q 'slow statement' "$WORK/sealbox.err"; then
        echo
        echo "Slowest statements Sealbox's database driver warned about:"
        echo
        sed 's/\x1b\[[0-9;]*m//g' "$WORK/sealbox.err" | grep 'slow statement' |
            sed -n 's/.*summary="\([^"]*\)".*elapsed_secs=\([0-9.]*\).*/\2 \1/p' | sort -rn |
            awk 'NR <= 5 { printf "- %s: %.2f s\n", $2, $1 }'
    fi
    echo
    echo "After the run, BENCH is at version ${final_version:-?} (1 + the successful updates of (d) and of any burst below)."
    if ((${#PROBE[@]} > 0)); then
        echo
        echo "Scenarios with non-2xx answers, and what a burst of 32 such requests sent at once with curl afterwards got:"
        echo
        for key in a b c d; do
            if [[ -n "${PROBE[$key]-}" ]]; then
                echo "- ${TITLE[$key]}: \`${PROBE[$key]}\`"
            fi
        done
    fi
    echo
    echo "## Targets"
    echo
    echo "- (a) reveal ≥ 35% of the baseline's req/s (2xx) — $(target_ratio a 0.35)"
    echo "- (c) creates ≥ 5,000 (2xx) req/s — $(target_rps c 5000)"
    echo "- (d) updates ≥ 5,000 (2xx) req/s — $(target_rps d 5000)"
    echo "- (e) environment of 100 secrets ≥ 25% of the baseline's req/s (2xx) — $(target_ratio e 0.25)"
    echo "- (f) \`sealbox run -- true\` adds ≤ 30 ms — $(awk "BEGIN { print ($ADDED_MS <= 30 ? \"**met**\" : \"**missed**\") }"): \`true\` $TRUE_MS ms, \`sealbox run -- true\` $RUN_MS ms (mean of 30, as the identity of (e) with 100 secrets), $ADDED_MS ms added"
    echo
    echo "## Notes"
    echo
    cat bench/NOTES.md
} >"$RESULTS"

cat "$RESULTS"
log "wrote $RESULTS; raw wrk output and server logs: $WORK"
