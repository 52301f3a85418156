#!/usr/bin/env bash
# Profiles the PostgreSQL reveal path (bench/NOTES.md): starts SEALBOX_BIN on a fresh database on
# 127.0.0.1:5432, runs wrk's reveal scenario for 10 s, and meanwhile samples the database's
# backends every 20 ms (pg_stat_activity: wait event and state) and the server with perf.
# Usage: bash bench/profile-postgres.sh SEALBOX_BIN OUTDIR
# Writes OUTDIR/waits.txt (samples per wait event), perf-top.txt, wrk.txt.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$1; OUT=$2; mkdir -p "$OUT"
PG=postgres://postgres@127.0.0.1:5432
DB=sealbox_prof_$$
createdb -h 127.0.0.1 -U postgres "$DB"
DATA=$(mktemp -d)
"$BIN" server --listen 127.0.0.1:0 --data-dir "$DATA" --database-url "$PG/$DB" >"$OUT/out" 2>"$OUT/err" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; dropdb -h 127.0.0.1 -U postgres --force "$DB"; rm -rf "$DATA"' EXIT
for i in $(seq 1 100); do URL=$(grep -o 'http://[0-9.:]*' "$OUT/out" 2>/dev/null | head -1 || true); [[ -n "$URL" ]] && break; sleep 0.2; done
TOKEN=$(tr -d '\n' <"$DATA/bootstrap.json" | sed -n 's/.*"token"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
curl -sS -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' --data '{"name":"BENCH","type":"text","value":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}' "$URL/v1/secrets"
# wait events of this database's backends, sampled every 20 ms while wrk runs
( end=$((SECONDS+9)); while ((SECONDS < end)); do psql -h 127.0.0.1 -U postgres -d "$DB" -Atc "SELECT coalesce(wait_event_type,'CPU') || ':' || coalesce(wait_event,'running') || ' ' || state FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"; sleep 0.02; done ) >"$OUT/waits.raw" &
SAMPLER=$!
perf record -F 499 -g -p $PID -o "$OUT/perf.data" -- sleep 8 >/dev/null 2>&1 &
PERF=$!
wrk -t2 -c64 -d10s --latency -s "$ROOT/bench/lua/reveal.lua" -H "Authorization: Bearer $TOKEN" "$URL/v1/secrets/BENCH/reveal" >"$OUT/wrk.txt"
wait $SAMPLER || true; wait $PERF || true
sort "$OUT/waits.raw" | uniq -c | sort -rn >"$OUT/waits.txt"
perf report -i "$OUT/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null | grep -v '^#' | grep '%' | head -40 >"$OUT/perf-top.txt" || true
grep RESULT "$OUT/wrk.txt"
