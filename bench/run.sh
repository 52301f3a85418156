#!/usr/bin/env bash
# Sealbox's HTTP benchmark. Usage, from anywhere: bash bench/run.sh
#
# Builds Sealbox and a bare axum baseline in release mode, starts the baseline on loopback, and
# runs wrk against, in this order:
#   baseline GET /;
#   for each database (SQLite: a fresh data directory; PostgreSQL: a fresh database created on
#   BENCH_PG (postgres://postgres@127.0.0.1:5432), dropped at the end), a fresh Sealbox and:
#     (a) reveal, (b) details, (c) creates, (d) updates, (e) the environment of an identity that
#     may read 100 secrets in a workspace of 10,000, (f) `sealbox run -- true`;
#   on PostgreSQL also (r) two replicas on the one database serving (a) together;
#   baseline GET / again.
# Writes bench/RESULTS.md (the raw wrk output and server logs stay in a temp dir, printed at the end).
# Every server is stopped on exit.
#
# Knobs (environment): BENCH_DURATION (10s), BENCH_CONNECTIONS (64), BENCH_THREADS (2),
# BENCH_PG (the PostgreSQL server, as a URL without a database; `none` skips PostgreSQL),
# BENCH_DATABASES ("sqlite postgres").
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DURATION=${BENCH_DURATION:-10s}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DATABASES=${BENCH_DATABASES:-sqlite postgres}
[[ "$PG" == none ]] && DATABASES=${DATABASES//postgres/}
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
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SEALBOX="$TARGET/release/sealbox"
BASELINE="$TARGET/release/sealbox-bench-baseline"

# --- servers ----------------------------------------------------------------------------------
WORK=$(mktemp -d -t sealbox-bench.XXXXXX)
BASELINE_PID=""
SEALBOX_PID=""
SEALBOX2_PID=""
DATA_DIR=""
PG_DB=""

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
drop_pg() {
    if [[ -n "$PG_DB" ]]; then
        dropdb --if-exists --force -d "$PG/postgres" "$PG_DB" >/dev/null 2>&1 || true
        PG_DB=""
    fi
}
cleanup() {
    local rc=$?
    stop "$SEALBOX2_PID"
    stop "$SEALBOX_PID"
    stop "$BASELINE_PID"
    [[ -n "$DATA_DIR" ]] && rm -rf "$DATA_DIR" # holds the root key and the owner's credentials
    drop_pg
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

# One request with curl; prints `STATUS BODY`.
call() { # method path [body]
    local method=$1 path=$2 body=${3-}
    local args=(-sS -o "$WORK/curl.body" -w '%{http_code}' -X "$method" -H "$AUTH")
    [[ -n "$body" ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    local status
    status=$(curl "${args[@]}" "$SEALBOX_URL$path")
    printf '%s %s\n' "$status" "$(head -c 2000 "$WORK/curl.body")"
}
expect_status() { # status line-from-call what
    [[ "$2" == "$1"\ * ]] || die "$3 answered: $2"
}

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
declare -A TITLE=() RPS=() P50=() P90=() P99=() MAXL=() NON2XX=() SOCKERR=() REQS=() STATUSES=() PROBE=() OK_RPS=() PRESSURE=() WARNS=() RSS=()
declare -A RUN_TRUE=() RUN_SEALBOX=() RUN_ADDED=() FINAL_VERSION=()

# Counts the statuses Sealbox logged (tower-http's `status=NNN`) in its log from line $1 on.
statuses_since() { # log first-line
    tail -n +"$2" "$1" | sed 's/\x1b\[[0-9;]*m//g' | grep -o 'status=[0-9]*' |
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

# The server's peak resident memory: reset before a scenario (clear_refs 5), read after (VmHWM).
reset_peak() { # pid...
    local pid
    for pid in "$@"; do echo 5 >"/proc/$pid/clear_refs" 2>/dev/null || true; done
}
peak_mib() { # pid...
    local pid total=0 kb
    for pid in "$@"; do
        kb=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status" 2>/dev/null || echo 0)
        total=$((total + ${kb:-0}))
    done
    awk "BEGIN { printf \"%.0f\", $total / 1024 }"
}

# Reads wrk's RESULT line from $2 into the arrays under $1.
record_result() { # key wrk-output title
    local key=$1 out=$2 line
    line=$(grep -m1 '^RESULT ' "$out") || die "no RESULT line from wrk on $key: $(cat "$out")"
    ORDER+=("$key")
    TITLE[$key]=$3
    REQS[$key]=$(field "$line" requests)
    RPS[$key]=$(field "$line" rps)
    P50[$key]=$(field "$line" p50_ms)
    P90[$key]=$(field "$line" p90_ms)
    P99[$key]=$(field "$line" p99_ms)
    MAXL[$key]=$(field "$line" max_ms)
    NON2XX[$key]=$(field "$line" non2xx)
    OK_RPS[$key]=$(awk "BEGIN { printf \"%.1f\", ${RPS[$key]} * (${REQS[$key]} - ${NON2XX[$key]}) / ${REQS[$key]} }")
    SOCKERR[$key]=$(($(field "$line" connect) + $(field "$line" read) + $(field "$line" write) + $(field "$line" timeout)))
}

measure_start() { T0=$(now_us) CPU0=$(psi_total cpu) IO0=$(psi_total io); }
measure_end() { # key
    local t1 cpu1 io1
    t1=$(now_us) cpu1=$(psi_total cpu) io1=$(psi_total io)
    if [[ -n "$CPU0" && -n "$cpu1" && -n "$IO0" && -n "$io1" ]]; then
        PRESSURE[$1]=$(awk "BEGIN { printf \"cpu %.0f%%, io %.0f%%\", 100*($cpu1-$CPU0)/($t1-$T0), 100*($io1-$IO0)/($t1-$T0) }")
    fi
}

# key title script url auth(yes/no) probe-method probe-path probe-body
scenario() {
    local key=$1 title=$2 script=$3 url=$4 auth=$5
    local args=(-t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$LUA/$script")
    [[ "$auth" == yes ]] && args+=(-H "$AUTH")
    local first_line=1
    [[ -n "$SEALBOX_PID" ]] && first_line=$(($(wc -l <"$SEALBOX_LOG") + 1))
    log "$title"
    [[ -n "$SEALBOX_PID" ]] && reset_peak "$SEALBOX_PID"
    measure_start
    wrk "${args[@]}" "$url" >"$WORK/wrk-$key.txt" 2>&1 || die "wrk failed on $key: $(cat "$WORK/wrk-$key.txt")"
    measure_end "$key"
    sed 's/^/    /' "$WORK/wrk-$key.txt" >&2
    record_result "$key" "$WORK/wrk-$key.txt" "$title"
    if [[ "$auth" == yes ]]; then
        RSS[$key]=$(peak_mib "$SEALBOX_PID")
        WARNS[$key]=$(tail -n +"$first_line" "$SEALBOX_LOG" | grep -c -E 'WARN|ERROR' || true)
        STATUSES[$key]=$(statuses_since "$SEALBOX_LOG" "$first_line")
    fi
    # Non-2xx answers mean the scenario measured errors: ask once more by hand and keep the answer.
    if [[ "${NON2XX[$key]}" != 0 && $# -ge 7 ]]; then
        PROBE[$key]=$(burst "$6" "$7" "${8-}")
        log "non-2xx on $key: ${NON2XX[$key]}; by hand: ${PROBE[$key]}"
    fi
}

# Starts Sealbox number $2 (1 or 2) on database $1; sets SEALBOX_PID/SEALBOX_URL (or the 2nd's).
start_sealbox() { # db n
    local db=$1 n=$2 args=(server --listen 127.0.0.1:0 --data-dir "$DATA_DIR")
    [[ "$db" == postgres ]] && args+=(--database-url "$PG/$PG_DB")
    local out="$WORK/sealbox-$db-$n.out" err="$WORK/sealbox-$db-$n.err"
    "$SEALBOX" "${args[@]}" >"$out" 2>"$err" &
    local pid=$!
    local url
    url=$(wait_for_url "sealbox ($db, $n)" "$pid" "$out" '^sealbox listening on ')
    if [[ $n == 1 ]]; then
        SEALBOX_PID=$pid SEALBOX_URL=$url SEALBOX_LOG=$err
    else
        SEALBOX2_PID=$pid SEALBOX2_URL=$url
    fi
}

# The (e) set-up: a workspace of 10,000 live secrets, of which an identity's policy lets it read
# 100 (tag team=bench); the other 9,900 carry team=other. Leaves AUTH as the identity's token.
setup_environment() {
    log "creating, in a workspace of its own, 10,000 secrets and the identity bench-env that may read 100 of them"
    WS_TOKEN=$(call POST /v1/workspaces '{"name":"bench-env"}' | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
    [[ -n "$WS_TOKEN" ]] || die "no token for the workspace bench-env"
    AUTH="Authorization: Bearer $WS_TOKEN"
    expect_status 201 "$(call POST /v1/identities '{"name":"bench-env","tags":{"team":"bench"}}')" "POST /v1/identities"
    expect_status 201 "$(call POST /v1/policies '{"name":"bench-read","identity_tags":{"team":"bench"},"secret_tags":{"team":"bench"},"allow":["read"]}')" "POST /v1/policies"
    local chunk i body
    for chunk in $(seq 0 9); do
        body=$(awk -v c="$chunk" -v v="$VALUE" 'BEGIN { printf "{\"tags\":{\"team\":\"other\"},\"secrets\":{"; for (i = 1; i <= 990; i++) printf "%s\"OTHER_%d_%d\":\"%s\"", (i > 1 ? "," : ""), c, i, v; printf "}}" }')
        expect_status 200 "$(call POST /v1/import "$body")" "POST /v1/import (chunk $chunk)"
    done
    body=$(awk -v v="$VALUE" 'BEGIN { printf "{\"tags\":{\"team\":\"bench\"},\"secrets\":{"; for (i = 1; i <= 100; i++) printf "%s\"ENV_%d\":\"%s\"", (i > 1 ? "," : ""), i, v; printf "}}" }')
    expect_status 200 "$(call POST /v1/import "$body")" "POST /v1/import (ENV_1..100)"
    ID_TOKEN=$(call POST /v1/identities/bench-env/tokens '{"name":"bench"}' | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
    [[ -n "$ID_TOKEN" ]] || die "no identity token"
    AUTH="Authorization: Bearer $ID_TOKEN"
    local env_count
    env_count=$(curl -sS -H "$AUTH" "$SEALBOX_URL/v1/environment" | grep -o '"ENV_[0-9]*"' | sort -u | wc -l)
    [[ "$env_count" == 100 ]] || die "the identity's environment holds $env_count secrets, not 100"
}

mean_ms() { # command...
    local start end
    start=$(date +%s%N)
    for _ in $(seq 1 30); do "$@" >/dev/null; done
    end=$(date +%s%N)
    awk "BEGIN { printf \"%.1f\", ($end - $start) / 30 / 1000000 }"
}

# Every scenario on one database, against a fresh Sealbox.
suite() { # db
    local db=$1 p=${1:0:2}
    DATA_DIR="$WORK/data-$db"
    mkdir -p "$DATA_DIR"
    if [[ "$db" == postgres ]]; then
        PG_DB="sealbox_bench_$$"
        createdb -d "$PG/postgres" "$PG_DB" 2>/dev/null || createdb -h 127.0.0.1 -U postgres "$PG_DB" ||
            die "cannot create the database $PG_DB on $PG"
    fi
    log "starting sealbox on $db"
    start_sealbox "$db" 1
    log "sealbox ($db) at $SEALBOX_URL"
    [[ -f "$DATA_DIR/bootstrap.json" ]] || die "no $DATA_DIR/bootstrap.json"
    TOKEN=$(tr -d '\n' <"$DATA_DIR/bootstrap.json" | sed -n 's/.*"token"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
    [[ -n "$TOKEN" ]] || die "no token in bootstrap.json"
    AUTH="Authorization: Bearer $TOKEN"
    local owner_auth=$AUTH

    log "creating the secret BENCH"
    local created revealed
    created=$(call POST /v1/secrets "{\"name\":\"BENCH\",\"type\":\"text\",\"value\":\"$VALUE\"}")
    [[ "$created" == 201\ * ]] || die "POST /v1/secrets (BENCH) answered: $created"
    revealed=$(call POST /v1/secrets/BENCH/reveal '{}')
    [[ "$revealed" == 200\ *"$VALUE"* ]] || die "POST /v1/secrets/BENCH/reveal answered: $revealed"

    scenario "$p-a" "$db (a) POST /v1/secrets/BENCH/reveal" reveal.lua "$SEALBOX_URL/v1/secrets/BENCH/reveal" yes \
        POST /v1/secrets/BENCH/reveal '{}'
    scenario "$p-b" "$db (b) GET /v1/secrets/BENCH" get.lua "$SEALBOX_URL/v1/secrets/BENCH" yes \
        GET /v1/secrets/BENCH
    scenario "$p-c" "$db (c) POST /v1/secrets (a new name each)" create.lua "$SEALBOX_URL/v1/secrets" yes \
        POST /v1/secrets "{\"name\":\"B_probe_${BENCH_RUN_TAG}_@N\",\"type\":\"text\",\"value\":\"$VALUE\"}"
    scenario "$p-d" "$db (d) PATCH /v1/secrets/BENCH (new version)" update.lua "$SEALBOX_URL/v1/secrets/BENCH" yes \
        PATCH /v1/secrets/BENCH "{\"value\":\"$VALUE\"}"
    FINAL_VERSION[$db]=$(call GET /v1/secrets/BENCH | sed -n 's/.*"version":\([0-9]*\).*/\1/p')

    setup_environment
    scenario "$p-e" "$db (e) GET /v1/environment (100 readable of 10,000)" env.lua "$SEALBOX_URL/v1/environment" yes \
        GET /v1/environment

    # (f): the wall time `sealbox run -- true` adds to `true`, as the identity (100 secrets to inject).
    log "$db (f) sealbox run -- true against true, 30 runs each"
    RUN_TRUE[$db]=$(mean_ms true)
    RUN_SEALBOX[$db]=$(SEALBOX_ADDR=$SEALBOX_URL SEALBOX_TOKEN=$ID_TOKEN mean_ms "$SEALBOX" run -- true)
    RUN_ADDED[$db]=$(awk "BEGIN { printf \"%.1f\", ${RUN_SEALBOX[$db]} - ${RUN_TRUE[$db]} }")
    log "$db (f) true: ${RUN_TRUE[$db]} ms, sealbox run -- true: ${RUN_SEALBOX[$db]} ms, added: ${RUN_ADDED[$db]} ms"
    AUTH=$owner_auth

    if [[ "$db" == postgres ]]; then
        # (r): a second replica on the same database (same root key: the same data directory),
        # and one wrk per replica at once, each with half the connections.
        start_sealbox "$db" 2
        log "postgres (r) two replicas: $SEALBOX_URL and $SEALBOX2_URL, reveal together"
        local half=$((CONNECTIONS / 2)) key
        local args=(-t1 -c"$half" -d"$DURATION" --latency -s "$LUA/reveal.lua" -H "$AUTH")
        reset_peak "$SEALBOX_PID" "$SEALBOX2_PID"
        measure_start
        wrk "${args[@]}" "$SEALBOX_URL/v1/secrets/BENCH/reveal" >"$WORK/wrk-po-r1.txt" 2>&1 &
        local w1=$!
        wrk "${args[@]}" "$SEALBOX2_URL/v1/secrets/BENCH/reveal" >"$WORK/wrk-po-r2.txt" 2>&1 &
        local w2=$!
        wait "$w1" || die "wrk failed on replica 1: $(cat "$WORK/wrk-po-r1.txt")"
        wait "$w2" || die "wrk failed on replica 2: $(cat "$WORK/wrk-po-r2.txt")"
        measure_end po-r1
        PRESSURE[po-r2]=${PRESSURE[po-r1]}
        sed 's/^/    /' "$WORK/wrk-po-r1.txt" "$WORK/wrk-po-r2.txt" >&2
        record_result po-r1 "$WORK/wrk-po-r1.txt" "postgres (r) reveal, replica 1 of 2 (-t1 -c$half)"
        record_result po-r2 "$WORK/wrk-po-r2.txt" "postgres (r) reveal, replica 2 of 2 (-t1 -c$half)"
        RSS[po-r1]=$(peak_mib "$SEALBOX_PID")
        RSS[po-r2]=$(peak_mib "$SEALBOX2_PID")
        stop "$SEALBOX2_PID"
        SEALBOX2_PID=""
    fi

    stop "$SEALBOX_PID"
    SEALBOX_PID=""
    rm -rf "$DATA_DIR"
    DATA_DIR=""
    drop_pg
}

scenario baseline1 "baseline: GET / (bare axum)" baseline.lua "$BASELINE_URL/" no
for db in $DATABASES; do
    suite "$db"
done
scenario baseline2 "baseline again: GET / (bare axum)" baseline.lua "$BASELINE_URL/" no

stop "$BASELINE_PID"
BASELINE_PID=""

# --- report -----------------------------------------------------------------------------------
calc() { awk "BEGIN { $1 }"; }
BASE_MEAN=$(calc "printf \"%.1f\", (${RPS[baseline1]} + ${RPS[baseline2]}) / 2")
BASE_SPREAD=$(calc "a=${RPS[baseline1]}; b=${RPS[baseline2]}; d=a-b; if (d<0) d=-d; printf \"%.1f\", 100*d/((a+b)/2)")
commas() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; } # 12345 -> 12,345 (integers only)
int() { calc "printf \"%d\", $1 + 0.5" | commas; }

# target_cell key min-ratio: "12.1% ≥ 20%: **met**" (or a dash when the scenario did not run).
target_cell() {
    [[ -n "${OK_RPS[$1]-}" ]] || { echo "-"; return; }
    calc "r = ${OK_RPS[$1]} / $BASE_MEAN; t = $2;
          printf \"%.2f%% (target ≥ %g%%): %s\", 100*r, 100*t, (r >= t ? \"**met**\" : \"**missed**\")"
}

CPU=$(sed -n '/^model name/{s/^model name[[:space:]]*:[[:space:]]*//p;q}' /proc/cpuinfo)
MEM=$(free -g | awk '/^Mem:/ { print $2 }')
{
    echo "# Sealbox HTTP benchmark"
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "- Machine: $(nproc) CPUs ($CPU), ${MEM} GiB RAM (\`free -g\` total), kernel $(uname -r);"
    echo "  load average before the first scenario: $LOAD_START, after the last: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- Sealbox: \`sealbox server --listen 127.0.0.1:0 --data-dir <fresh temp dir>\` (SQLite), and with"
    echo "  \`--database-url $PG/<fresh database>\` (PostgreSQL $(psql -d "$PG/postgres" -Atc 'SHOW server_version' 2>/dev/null || echo '?'), same machine);"
    echo "  release build, default log level (one INFO line per request to stderr, sent to a file), git $GIT_DESC"
    echo "- Baseline: \`sealbox-bench-baseline 127.0.0.1:0\` (bare axum, \`GET /\` answers 64 bytes)"
    echo "- Command: \`bash bench/run.sh\`; each scenario runs"
    echo "  \`$WRK_COMMAND\`"
    echo "  on the same machine as the servers (wrk and the server share the CPUs), in the order below."
    echo "  Values are 64 characters. (c) names are \`B_<run>_<thread>_<n>\`; (d) sends \`{\"value\": ...}\` without"
    echo "  \`expected_version\`; (e) is an identity whose policy covers 100 of the 10,000 live secrets of its"
    echo "  workspace; (r) is two replicas on one PostgreSQL database, one wrk each (half the connections) at once."
    echo
    echo "## Targets"
    echo
    echo "2xx requests/s relative to the bare baseline of the same run (issue 13):"
    echo
    echo "| scenario | SQLite | PostgreSQL |"
    echo "|---|---|---|"
    echo "| (a) reveal one secret | $(target_cell sq-a 0.20) | $(target_cell po-a 0.05) |"
    echo "| (b) GET details | $(target_cell sq-b 0.25) | $(target_cell po-b 0.08) |"
    echo "| (e) environment of 100 secrets in a workspace of 10,000 | $(target_cell sq-e 0.03) | $(target_cell po-e 0.01) |"
    echo "| (c) create, durable | $(target_cell sq-c 0.07) | $(target_cell po-c 0.03) |"
    echo "| (d) update one secret, durable | $(target_cell sq-d 0.07) | $(target_cell po-d 0.03) |"
    echo
    if [[ -n "${OK_RPS[po-r1]-}" && -n "${OK_RPS[po-a]-}" ]]; then
        echo "Two replicas on one PostgreSQL serving (a) together: $(int "${OK_RPS[po-r1]}") + $(int "${OK_RPS[po-r2]}") ="
        echo "$(calc "printf \"%d\", ${OK_RPS[po-r1]} + ${OK_RPS[po-r2]} + 0.5" | commas) req/s, against $(int "${OK_RPS[po-a]}") for one replica alone:"
        echo "$(calc "s = ${OK_RPS[po-r1]} + ${OK_RPS[po-r2]}; o = ${OK_RPS[po-a]}; printf \"%.2f× one replica: %s\", s / o, (s >= o ? \"**met** (the sum does not fall below one replica)\" : \"**missed** (the sum falls below one replica)\")")."
        echo "(Both replicas and wrk share the same $(nproc) CPUs, so this shows that replicas do not serialise"
        echo "on each other, not that they scale: that needs a machine per replica.)"
        echo
    fi
    for db in $DATABASES; do
        echo "(f) \`sealbox run -- true\` on $db adds ${RUN_ADDED[$db]-?} ms to \`true\` (${RUN_TRUE[$db]-?} ms → ${RUN_SEALBOX[$db]-?} ms, mean of 30, as the identity of (e))."
    done
    echo
    echo "## All scenarios"
    echo
    echo "| scenario | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | socket errors | 2xx req/s | × baseline | peak RSS MiB |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for key in "${ORDER[@]}"; do
        ratio=$(calc "printf \"%.4f\", ${OK_RPS[$key]} / $BASE_MEAN")
        echo "| ${TITLE[$key]} | ${REQS[$key]} | $(int "${RPS[$key]}") | ${P50[$key]} | ${P90[$key]} | ${P99[$key]} | ${MAXL[$key]} | ${NON2XX[$key]} | ${SOCKERR[$key]} | $(int "${OK_RPS[$key]}") | $ratio | ${RSS[$key]:--} |"
    done
    echo
    echo "Baseline mean: $(int "$BASE_MEAN") req/s; the two baseline runs differ by ${BASE_SPREAD}% of their mean"
    echo "(a rough measure of this machine's noise). Ratios are to the mean."
    echo "\"non-2xx\" is wrk's count of answers with status ≥ 400; socket errors are wrk's connect, read, write and timeout errors."
    echo "\"2xx req/s\" counts successful answers only; the ratio to the baseline and the targets use it (an error is not throughput)."
    echo "Peak RSS is the server's \`VmHWM\` during the scenario (reset before it through \`/proc/PID/clear_refs\`)."
    echo
    echo "Statuses Sealbox logged during each scenario (from its request log):"
    echo
    for key in "${ORDER[@]}"; do
        [[ -n "${STATUSES[$key]-}" ]] && echo "- ${TITLE[$key]}: ${STATUSES[$key]}"
    done
    echo
    echo "Machine pressure during each scenario (Linux PSI \"some\": share of wall time in which some task waited"
    echo "for a CPU / for I/O; other work on the machine shows up here), and WARN/ERROR lines in Sealbox's log:"
    echo
    for key in "${ORDER[@]}"; do
        echo "- ${TITLE[$key]}: ${PRESSURE[$key]:-n/a}; Sealbox log: ${WARNS[$key]:-0} WARN/ERROR lines"
    done
    echo
    for db in $DATABASES; do
        echo "After the run on $db, BENCH is at version ${FINAL_VERSION[$db]:-?} (1 + the successful updates of (d) and of any burst)."
    done
    if ((${#PROBE[@]} > 0)); then
        echo
        echo "Scenarios with non-2xx answers, and what a burst of 32 such requests sent at once with curl afterwards got:"
        echo
        for key in "${ORDER[@]}"; do
            if [[ -n "${PROBE[$key]-}" ]]; then
                echo "- ${TITLE[$key]}: \`${PROBE[$key]}\`"
            fi
        done
    fi
    echo
    echo "## Notes"
    echo
    cat bench/NOTES.md
} >"$RESULTS"

cat "$RESULTS"
log "wrote $RESULTS; raw wrk output and server logs: $WORK"
