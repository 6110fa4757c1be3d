#!/usr/bin/env bash
# bench/run.sh - Axon's performance benchmarks (`make bench` runs this after
# building ./axon). Every number is measured in this one run, against a
# reference measured in the same run on the same machine:
#
#  1. GET /api/v1/customers/{id} (random real ids, API key) vs bench/bare_mhd.c,
#     a bare libmicrohttpd server with Axon's daemon flags answering a fixed
#     JSON body: same wrk command, same Lua script.            goal >= 50%
#  2. POST /api/v1/customers (with its audit row and search entry) vs
#     bench/sqlite_insert.c, single-row BEGIN/INSERT/COMMIT into a plain
#     table with the same durability (WAL, synchronous=NORMAL).  goal >= 50%
#     The same pair with --durability full / synchronous=FULL is shown too.
#  3. List and search latency at 10k, 100k and 1M customers (one database
#     grown slice by slice): p99 at 1M <= 2 x p99 at 10k (each request
#     measured in 3 rounds, its best round kept).
#  4. `axon import` rows/s vs `sqlite3 .import` of the same CSV into a plain
#     table, on the 8,800-row pipeline and a 1,000,000-row one.  goal >= 30%
#  5. Workflows: POST /api/v1/customers with a published before handler
#     (bench/packs/bench-before) vs the same POST with no pack, same server,
#     same run                                                    goal >= 70%;
#     and after-handler throughput (bench/packs/bench-after writes a note
#     per event): deliveries done per second while and after a POST load.
#  6. Tagging (bench/intent_speed.c): MB of real review text per second
#     through tags_compute (what every activity and ticket write runs:
#     intents with evidence, built-in dictionary of 5,870 terms), one call
#     per record, vs glibc memmem() scanning the same text for one term
#     ("物流")                                                       goal >= 0.25
#
# Programs: bench/bare_mhd.c and bench/sqlite_insert.c (the references),
# bench/http_load.c (loads customers through POST when `axon import` fails),
# bench/gen_customers.py and bench/gen_pipeline.py (the CSVs, cached in
# bench/out/data), wrk scripts in bench/lua/.
# Servers listen on 127.0.0.1 only (--port 0 --port-file), each on its own
# temporary database, with --rate-limit 0 and --log-level warn; every load
# run is bounded by wrk's -d and by `timeout`; servers are killed on exit.
# The summary is printed and written to bench/out/summary.txt.
#
# Knobs (environment):
#   AXON=./axon              binary under test
#   BENCH_SECONDS=10         length of each throughput run (GET, POST)
#   BENCH_ROUNDS=2           GET: alternate bare/Axon this many times, best of each
#   BENCH_LAT_SECONDS=4      length of each list/search latency run
#   BENCH_LAT_ROUNDS=3       latency: rounds over all requests, best p99 of each
#   BENCH_SIZES="10000 100000 1000000"   customer counts for part 3
#   BENCH_PIPELINE_ROWS=1000000          size of the large import file
#   BENCH_PARTS="get post list import workflow tagging"   which parts to run
#   BENCH_PROFILE=1          also perf-record the server during extra GET and
#                            POST runs (bench/out/profile_*.txt)
#   BENCH_KEEP=1             keep the temporary directory (databases, logs)
#   BENCH_STRICT=1           exit 1 when a goal is missed
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
AXON=${AXON:-$ROOT/axon}
OUT=$ROOT/bench/out
DATA=$OUT/data
PY=/usr/bin/python3            # Debian's interpreter, not the pyenv one on PATH
SECONDS_RUN=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-2}
LAT_SECONDS=${BENCH_LAT_SECONDS:-4}
LAT_ROUNDS=${BENCH_LAT_ROUNDS:-3}
SIZES=${BENCH_SIZES:-"10000 100000 1000000"}
PIPE_ROWS=${BENCH_PIPELINE_ROWS:-1000000}
PARTS=${BENCH_PARTS:-"get post list import workflow tagging"}
PIPELINE_CSV=${BENCH_PIPELINE_CSV:-$ROOT/../shared/data/crm_sales_opportunities/sales_pipeline.csv}
CRM_DIR=$(dirname "$PIPELINE_CSV")
SERVER_MAX=3600                # no server outlives this, whatever happens
export BENCH_LUA=$ROOT/bench/lua

mkdir -p "$OUT" "$DATA"
WORK=$(mktemp -d /tmp/axon-bench.XXXXXX)
SERVERS=()                     # pids of the `timeout` wrappers we started
RESULTS=$OUT/results.tsv       # raw results, one line each
: >"$RESULTS"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

cleanup() {
    local pid
    for pid in "${SERVERS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${SERVERS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

has_part() { case " $PARTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# field NAME "key=value key=value ..." -> value
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
ms() { awk -v u="$1" 'BEGIN { if (u == "") print "-"; else printf "%.2f", u / 1000 }'; }
result() { printf '%s\n' "$*" >>"$RESULTS"; }

# ---- tools ----------------------------------------------------------------

command -v wrk >/dev/null || die "wrk is missing (scripts/deps.sh bench installs it)"
command -v sqlite3 >/dev/null || die "sqlite3 is missing"
[ -x "$AXON" ] || die "$AXON is not built (make axon)"
# Run a private copy: the tree may be rebuilt while the benchmark runs, and
# perf must resolve symbols against the binary that actually ran.
cp "$AXON" "$WORK/axon"
AXON=$WORK/axon

RUN_T0=$(now)
PART_TIMES=()
part_done() { PART_TIMES+=("$1 $(elapsed "$2" "$(now)")s"); }
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "building the reference programs"
gcc -O2 -std=c11 -Wall -Wextra -Werror -o "$OUT/bare_mhd" bench/bare_mhd.c \
    $(pkg-config --cflags --libs libmicrohttpd)
gcc -O2 -std=c11 -Wall -Wextra -Werror -o "$OUT/sqlite_insert" bench/sqlite_insert.c \
    $(pkg-config --cflags --libs sqlite3)
gcc -O2 -std=c11 -Wall -Wextra -Werror -pthread -o "$OUT/http_load" bench/http_load.c

# ---- a quiet machine ---------------------------------------------------------
# The references and Axon share the machine with whatever else runs on it.
# Before each measurement, wait (bounded) until other processes leave the
# CPUs alone, and note it in the summary when they did not.

QUIET_BUDGET=${BENCH_QUIET_WAIT:-240}    # seconds of waiting in the whole run
cpu_busy() {     # % of all CPUs busy during one second (every process)
    local a b
    a=$(head -1 /proc/stat); sleep 1; b=$(head -1 /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN {
        n = split(a, x); split(b, y); busy = 0; all = 0
        for (i = 2; i <= n && i <= 9; i++) { d = y[i] - x[i]; all += d; if (i != 5 && i != 6) busy += d }
        printf "%.0f", (all > 0 ? 100 * busy / all : 0) }'
}
wait_quiet() {   # wait_quiet LABEL
    local busy waited=0
    busy=$(cpu_busy)
    while [ "$busy" -gt 15 ] && [ "$QUIET_BUDGET" -gt 0 ] && [ "$waited" -lt 60 ]; do
        [ "$waited" = 0 ] && log "machine busy ($busy% CPU used by other processes): waiting before $1"
        sleep 4
        waited=$((waited + 5)) QUIET_BUDGET=$((QUIET_BUDGET - 5))
        busy=$(cpu_busy)
    done
    if [ "$busy" -gt 15 ]; then
        log "WARNING: measuring $1 on a busy machine ($busy% CPU used by others)"
        NOTES+=("WARNING: $1 measured while other processes used $busy% of the CPUs")
    fi
}

# ---- servers --------------------------------------------------------------

# new_db DIR: a fresh database with tenant "Bench" (slug bench); sets KEY.
new_db() {
    local dir=$1
    mkdir -p "$dir/var"
    "$AXON" --db "$dir/axon.db" --var "$dir/var" --log-level warn tenant create Bench \
        >"$dir/tenant.txt" 2>>"$dir/cli.log" || die "tenant create failed (see $dir/cli.log)"
    KEY=$(awk '$1 == "API" && $2 == "key" { print $3 }' "$dir/tenant.txt")
    [ -n "$KEY" ] || die "no API key in the output of tenant create"
}

# wait_port FILE: the port a server wrote, waiting up to 15 s.
wait_port() {
    local i
    for i in $(seq 150); do
        if [ -s "$1" ]; then cat "$1"; return 0; fi
        sleep 0.1
    done
    return 1
}

# start_axon DIR [flags...]: sets PORT, SERVER (wrapper pid), SERVER_PID.
start_axon() {
    local dir=$1; shift
    rm -f "$dir/port"
    timeout -s TERM "$SERVER_MAX" "$AXON" --db "$dir/axon.db" --var "$dir/var" \
        --listen 127.0.0.1 --port 0 --port-file "$dir/port" --rate-limit 0 \
        --log-level warn "$@" serve >>"$dir/server.log" 2>&1 &
    SERVER=$!
    SERVERS+=("$SERVER")
    PORT=$(wait_port "$dir/port") || die "axon did not start (see $dir/server.log)"
    SERVER_PID=$(pgrep -P "$SERVER" | head -1)
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || die "axon does not answer /healthz"
}

start_bare() {
    local dir=$1 body=$2
    rm -f "$dir/bare.port"
    timeout -s TERM "$SERVER_MAX" "$OUT/bare_mhd" "$body" "$dir/bare.port" "$SERVER_MAX" \
        >>"$dir/bare.log" 2>&1 &
    SERVER=$!
    SERVERS+=("$SERVER")
    PORT=$(wait_port "$dir/bare.port") || die "bare_mhd did not start"
    SERVER_PID=$(pgrep -P "$SERVER" | head -1)
}

# wait_idle PID: until the process uses (almost) no CPU, at most 60 s, so
# requests still running after a wrk run do not spill into the next one.
wait_idle() {
    local pid=$1 prev cur i
    prev=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null) || return 0
    for i in $(seq 300); do
        sleep 0.2
        cur=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null) || return 0
        [ $((cur - prev)) -le 2 ] && return 0      # <= 20 ms of CPU in 200 ms
        prev=$cur
    done
}

stop_server() {
    kill -TERM "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    SERVER=""
}

# ---- wrk --------------------------------------------------------------------

# run_wrk OUTVAR THREADS CONNS SECONDS SCRIPT URL [extra wrk args]
# Runs wrk (bounded by -d and by timeout) and stores its BENCH line in OUTVAR;
# a run with a non-2xx answer or a socket error is an error, unless
# WRK_LENIENT=1 (then it is a warning and a note). WRK_TIMEOUT: wrk --timeout.
run_wrk() {
    local __var=$1 __t=$2 __c=$3 __s=$4 __script=$5 __url=$6; shift 6
    local __f="$WORK/wrk.$RANDOM.out" __line
    timeout $((__s + 90)) wrk -t"$__t" -c"$__c" -d"${__s}s" --timeout "${WRK_TIMEOUT:-10s}" \
        -s "$BENCH_LUA/$__script" -H "Authorization: Bearer ${KEY:-none}" "$@" "$__url" \
        >"$__f" 2>&1 || true
    __line=$(grep '^BENCH ' "$__f" || true)
    [ -n "$__line" ] || { cat "$__f" >&2; die "wrk gave no result for $__url"; }
    if [ "$(field non2xx "$__line")" != 0 ] || [ "$(field sockerr "$__line")" != 0 ]; then
        cat "$__f" >&2
        [ "${WRK_LENIENT:-0}" = 1 ] || die "wrk saw errors against $__url: $__line"
        log "WARNING: wrk saw errors against $__url: $__line"
        NOTES+=("WARNING: errors during the run against $__url: $__line")
    fi
    printf -v "$__var" '%s' "$__line"
}

# profile NAME SECONDS SCRIPT URL [extra wrk args]: perf-record the server
# (SERVER_PID) during one extra wrk run; flat and caller views in bench/out.
profile() {
    [ "${BENCH_PROFILE:-0}" = 1 ] || return 0
    command -v perf >/dev/null || { log "perf missing: no profile"; return 0; }
    local name=$1 s=$2 script=$3 url=$4; shift 4
    local data="$WORK/perf_$name.data" junk
    log "profiling $name (perf record on pid $SERVER_PID)"
    timeout $((s + 30)) perf record -F 499 --call-graph dwarf,8192 -p "$SERVER_PID" \
        -o "$data" -- sleep "$s" >/dev/null 2>&1 &
    local perf=$!
    sleep 0.3
    run_wrk junk 2 64 $((s - 1)) "$script" "$url" "$@"
    wait "$perf" || true
    perf report -i "$data" --no-children --sort dso,symbol --percent-limit 0.7 --stdio \
        -g none 2>/dev/null | grep -v '^$' >"$OUT/profile_$name.txt" || true
    perf report -i "$data" --children --sort symbol --percent-limit 1.5 --stdio \
        -g none 2>/dev/null | grep -v '^$' >"$OUT/profile_${name}_children.txt" || true
    log "profile: bench/out/profile_$name.txt"
}

# ---- the summary ------------------------------------------------------------

ROWS=()          # "name|axon|reference|ratio|goal|verdict|axon p50/p99|ref p50/p99"
LAT_ROWS=()      # "name|10k|100k|1M|ratio|goal|verdict"
NOTES=()
FAILS=0

verdict() {      # verdict RATIO GOAL(>=x or <=x)
    local r=$1 g=$2
    if [ "$r" = "n/a" ]; then echo "n/a"; return; fi
    awk -v r="$r" -v op="${g:0:2}" -v v="${g:2}" \
        'BEGIN { ok = (op == ">=") ? (r >= v) : (r <= v); print ok ? "PASS" : "FAIL" }'
}
add_row() {      # add_row NAME AXON REF RATIO GOAL AXON_LAT REF_LAT
    local v="info"
    if [ "$5" != "info" ]; then
        v=$(verdict "$4" "$5")
        [ "$v" = FAIL ] && FAILS=$((FAILS + 1))
    fi
    ROWS+=("$1|$2|$3|$4|$5|$v|$6|$7")
}

# ---- 1 and 2: GET by id and POST -----------------------------------------

GET_DIR=$WORK/api
T_PART=$(now)
if has_part post || has_part get; then
    new_db "$GET_DIR"
    start_axon "$GET_DIR"
    log "axon on port $PORT (pid $SERVER_PID); POST warm-up"
    run_wrk junk 2 64 2 post_customer.lua "http://127.0.0.1:$PORT/"
fi

if has_part post; then
    wait_idle "$SERVER_PID"; wait_quiet "POST"
    log "POST /api/v1/customers: wrk -t2 -c64 -d${SECONDS_RUN}s (durability normal)"
    run_wrk post_axon 2 64 "$SECONDS_RUN" post_customer.lua "http://127.0.0.1:$PORT/"
    result "post_axon_normal $post_axon"
    profile post 8 post_customer.lua "http://127.0.0.1:$PORT/"
fi

if has_part get; then
    # Real ids for the random GETs: everything created so far, topped up to
    # at least 20,000 customers so the ids are spread over a real table.
    have=$(sqlite3 "$GET_DIR/axon.db" "SELECT count(*) FROM customers")
    if [ "$have" -lt 20000 ]; then
        log "GET: topping up to 20000 customers"
        run_wrk junk 2 64 $(( (20000 - have) / 1500 + 2 )) post_customer.lua "http://127.0.0.1:$PORT/"
    fi
    sqlite3 "$GET_DIR/axon.db" "SELECT id FROM customers" >"$WORK/ids.txt"
    nids=$(wc -l <"$WORK/ids.txt")
    curl -sf -H "Authorization: Bearer $KEY" \
        "http://127.0.0.1:$PORT/api/v1/customers/$(head -1 "$WORK/ids.txt")" >"$WORK/body.json" ||
        die "GET of a customer failed"
    body_bytes=$(wc -c <"$WORK/body.json")
    export BENCH_IDS=$WORK/ids.txt
    log "GET /api/v1/customers/{id}: $nids ids, reference body $body_bytes bytes (a real customer)"
    AXON_PORT=$PORT AXON_SERVER=$SERVER AXON_PID=$SERVER_PID
    start_bare "$GET_DIR" "$WORK/body.json"
    BARE_PORT=$PORT BARE_SERVER=$SERVER
    best_axon="" best_bare=""
    for r in $(seq "$ROUNDS"); do
        for who in bare axon; do
            if [ $who = bare ]; then p=$BARE_PORT; else p=$AXON_PORT; fi
            wait_idle "$AXON_PID"; wait_quiet "GET ($who, round $r)"
            run_wrk junk 2 64 2 get_by_id.lua "http://127.0.0.1:$p/"
            run_wrk line 2 64 "$SECONDS_RUN" get_by_id.lua "http://127.0.0.1:$p/"
            log "  round $r $who: $line"
            result "get_${who}_round$r $line"
            if [ $who = bare ]; then best=$best_bare; else best=$best_axon; fi
            if [ -z "$best" ] || awk -v a="$(field rps "$line")" -v b="$(field rps "$best")" \
                'BEGIN { exit !(a > b) }'; then
                if [ $who = bare ]; then best_bare=$line; else best_axon=$line; fi
            fi
        done
    done
    SERVER=$BARE_SERVER; stop_server
    SERVER=$AXON_SERVER SERVER_PID=$AXON_PID PORT=$AXON_PORT
    profile get 8 get_by_id.lua "http://127.0.0.1:$PORT/"
    add_row "GET /customers/{id} rps (vs bare MHD)" "$(field rps "$best_axon")" \
        "$(field rps "$best_bare")" "$(ratio "$(field rps "$best_axon")" "$(field rps "$best_bare")")" \
        ">=0.50" "$(ms "$(field p50_us "$best_axon")")/$(ms "$(field p99_us "$best_axon")") ms" \
        "$(ms "$(field p50_us "$best_bare")")/$(ms "$(field p99_us "$best_bare")") ms"
    NOTES+=("GET: wrk -t2 -c64 -d${SECONDS_RUN}s, script bench/lua/get_by_id.lua over $nids real ids; bare body = a real customer ($body_bytes bytes); best of $ROUNDS alternating rounds each.")
fi

if has_part post || has_part get; then
    stop_server
fi

if has_part post; then
    wait_quiet "the SQLite insert reference"
    log "reference: sqlite_insert (WAL, synchronous=NORMAL), ${SECONDS_RUN}s"
    ref=$("$OUT/sqlite_insert" "$WORK/plain_normal.db" "$SECONDS_RUN" normal)
    result "post_sqlite_normal $ref"
    add_row "POST /customers rps (vs SQLite 1-row tx)" "$(field rps "$post_axon")" \
        "$(field rps "$ref")" "$(ratio "$(field rps "$post_axon")" "$(field rps "$ref")")" ">=0.50" \
        "$(ms "$(field p50_us "$post_axon")")/$(ms "$(field p99_us "$post_axon")") ms" \
        "$(ms "$(field p50_us "$ref")")/$(ms "$(field p99_us "$ref")") ms"

    log "POST again with --durability full vs synchronous=FULL"
    start_axon "$GET_DIR" --durability full
    run_wrk junk 2 64 2 post_customer.lua "http://127.0.0.1:$PORT/"
    wait_idle "$SERVER_PID"; wait_quiet "POST (full)"
    run_wrk post_full 2 64 "$SECONDS_RUN" post_customer.lua "http://127.0.0.1:$PORT/"
    result "post_axon_full $post_full"
    stop_server
    ref=$("$OUT/sqlite_insert" "$WORK/plain_full.db" "$SECONDS_RUN" full)
    result "post_sqlite_full $ref"
    add_row "POST /customers rps, durability full" "$(field rps "$post_full")" \
        "$(field rps "$ref")" "$(ratio "$(field rps "$post_full")" "$(field rps "$ref")")" "info" \
        "$(ms "$(field p50_us "$post_full")")/$(ms "$(field p99_us "$post_full")") ms" \
        "$(ms "$(field p50_us "$ref")")/$(ms "$(field p99_us "$ref")") ms"
    NOTES+=("POST: wrk -t2 -c64 -d${SECONDS_RUN}s, bench/lua/post_customer.lua (new customer per request, 201 each); reference bench/sqlite_insert.c, one connection, BEGIN/INSERT/COMMIT per row, ~600-byte row, no index.")
fi

if has_part post || has_part get; then part_done "get+post" "$T_PART"; fi

# ---- 3: list and search latency at growing sizes ----------------------------

IMPORTER=unknown     # yes / no, decided by the first import attempt

# try_import DIR OBJECT FILE [more import args]: 0 when `axon import` worked.
try_import() {
    local dir=$1 obj=$2 file=$3; shift 3
    [ "$IMPORTER" = no ] && return 1
    if timeout 1800 "$AXON" --db "$dir/axon.db" --var "$dir/var" --log-level warn \
        import --tenant bench --object "$obj" --file "$file" "$@" \
        >>"$dir/import.log" 2>&1 </dev/null; then
        IMPORTER=yes
        return 0
    fi
    log "axon import --object $obj failed (exit $?; see import.log)"
    if [ "$IMPORTER" = unknown ]; then
        IMPORTER=no
        NOTES+=("IMPORTER NOT READY: 'axon import' failed (the CSV importer is still being written); customers were loaded through POST /api/v1/customers instead, and the import ratios are skipped.")
    fi
    return 1
}

count_rows() { sqlite3 "$1/axon.db" "SELECT count(*) FROM $2"; }

if has_part list; then
    T_PART=$(now)
    LDIR=$WORK/list
    new_db "$LDIR"
    bounds=$SIZES
    if [ ! -s "$DATA/.customers_done" ] || [ "$(cat "$DATA/.customers_done")" != "$bounds" ] ||
       [ bench/gen_customers.py -nt "$DATA/.customers_done" ]; then
        log "generating customers CSV/JSONL for $bounds"
        $PY bench/gen_customers.py "$DATA" $bounds >"$DATA/.term"
        echo "$bounds" >"$DATA/.customers_done"
    fi
    TERM_Q=$(cat "$DATA/.term")
    lo=0 SERVER=""
    declare -A P50 P99
    ENDPOINTS="list_first list_cursor sort_name search sort_name_cursor"
    for hi in $bounds; do
        slice=$DATA/customers_${lo}_${hi}
        n=$((hi - lo))
        # ---------------------------------------------------------------
        # LOAD STEP: `axon import` of the slice's CSV (server stopped), or,
        # while the importer is not ready, POST of every row through the API.
        # ---------------------------------------------------------------
        how=""
        if [ "$IMPORTER" != no ]; then
            [ -n "$SERVER" ] && stop_server
            wait_quiet "loading customers $lo..$hi"
            t0=$(now)
            if try_import "$LDIR" customers "$slice.csv" --key external_id; then
                how="axon import"
            fi
            t1=$(now)
        fi
        if [ -z "$how" ]; then
            [ -z "$SERVER" ] && start_axon "$LDIR"
            log "loading $n customers through POST /api/v1/customers (importer not ready)"
            t0=$(now)
            "$OUT/http_load" "$PORT" /api/v1/customers "$KEY" "$slice.jsonl" 64 \
                $((n / 200 + 120)) >"$WORK/load.out" || { cat "$WORK/load.out" >&2; die "load failed"; }
            cat "$WORK/load.out" >&2
            t1=$(now)
            how="HTTP POST (fallback)"
        fi
        secs=$(elapsed "$t0" "$t1")
        have=$(count_rows "$LDIR" customers)
        [ "$have" = "$hi" ] || die "expected $hi customers after loading, found $have"
        log "loaded $lo..$hi by $how in ${secs}s ($(ratio "$n" "$secs") rows/s)"
        result "load_customers_${lo}_${hi} how=\"$how\" seconds=$secs rows=$n"
        NOTES+=("load customers $lo -> $hi via $how: ${secs}s ($(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s }') rows/s)")
        [ -z "$SERVER" ] && start_axon "$LDIR"

        # Requests: first page, a cursor page from the middle, sorted by
        # name (first page and middle), and the search for the rare term.
        base="http://127.0.0.1:$PORT/api/v1"
        mid=$((hi / 2))
        # Cursors into the middle of the table, made from real cursors
        # (bench/mid_cursor.py); page 2 when that does not work.
        mid_cursor() {     # mid_cursor SORT QUERY -> cursor
            local first next c code
            first=$(curl -sf -H "Authorization: Bearer $KEY" "$base/customers?limit=25$2") ||
                die "GET /customers$2 failed"
            next=$($PY -c 'import json,sys; print(json.load(sys.stdin)["next"] or "")' <<<"$first")
            [ -n "$next" ] || die "no next cursor on the first page of /customers$2"
            c=$($PY bench/mid_cursor.py "$LDIR/axon.db" "$next" "$1" "$mid")
            code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" \
                "$base/customers?limit=25$2&after=$c")
            if [ "$code" != 200 ]; then
                log "WARNING: a mid-table cursor was refused ($code): measuring page 2 instead"
                echo "WARNING: cursor pages at $hi are page 2, not the middle (crafted cursor refused)" \
                    >>"$WORK/notes.extra"
                c=$next
            fi
            printf '%s' "$c"
        }
        cur_rid=$(mid_cursor "" "")
        cur_name=$(mid_cursor name "&sort=name")
        declare -A URL=(
            [list_first]="$base/customers?limit=25"
            [list_cursor]="$base/customers?limit=25&after=$cur_rid"
            [sort_name]="$base/customers?sort=name&limit=25"
            [search]="$base/search?q=$TERM_Q&types=customers"
            [sort_name_cursor]="$base/customers?sort=name&limit=25&after=$cur_name"
        )
        wait_idle "$SERVER_PID"; wait_quiet "list/search at $hi"
        # Check each answer once: 200, a full page, the expected hits.
        for e in $ENDPOINTS; do
            body=$(curl -s -w '\n%{http_code}' -H "Authorization: Bearer $KEY" "${URL[$e]}")
            code=${body##*$'\n'}
            nd=$($PY -c 'import json,sys; print(len(json.loads(sys.stdin.read())["data"]))' \
                <<<"${body%$'\n'*}" 2>/dev/null || echo "?")
            [ "$code" = 200 ] || die "$e answered $code: ${body:0:300}"
            if [ "$e" = search ]; then
                [ "$nd" = 20 ] || log "WARNING: search for '$TERM_Q' returned $nd hits, expected 20"
            elif [ "$nd" != 25 ]; then
                log "WARNING: $e returned $nd rows, expected 25"
            fi
        done
        # LAT_ROUNDS rounds over all endpoints; each keeps its best round
        # (lowest p99), as GET keeps its best: one 6 s run with 4
        # connections on 2 shared cores measured the neighbours' bursts
        # as often as the query (p99 of 35 ms at 10k beside 0.3 ms).
        for e in $ENDPOINTS; do
            WRK_LENIENT=1 WRK_TIMEOUT=60s run_wrk junk 1 4 1 fixed.lua "${URL[$e]}"
            P99[$e,$hi]=""
        done
        for round in $(seq "$LAT_ROUNDS"); do
            for e in $ENDPOINTS; do
                wait_idle "$SERVER_PID"
                WRK_LENIENT=1 WRK_TIMEOUT=60s run_wrk line 1 4 "$LAT_SECONDS" fixed.lua "${URL[$e]}"
                log "  $hi $e round $round: rps $(field rps "$line") p50 $(ms "$(field p50_us "$line")") ms p99 $(ms "$(field p99_us "$line")") ms"
                result "lat_${e}_${hi}_round$round $line"
                if [ -z "${P99[$e,$hi]}" ] || [ "$(field p99_us "$line")" -lt "${P99[$e,$hi]}" ]; then
                    P50[$e,$hi]=$(field p50_us "$line")
                    P99[$e,$hi]=$(field p99_us "$line")
                fi
            done
        done
        lo=$hi
    done
    stop_server
    first=${bounds%% *} last=${bounds##* }
    for e in $ENDPOINTS; do
        cells=""
        for hi in $bounds; do
            cells+="$(ms "${P50[$e,$hi]}")/$(ms "${P99[$e,$hi]}")|"
        done
        r=$(ratio "${P99[$e,$last]}" "${P99[$e,$first]}")
        goal="<=2.0"
        [ "$e" = sort_name_cursor ] && goal="info"
        if [ "$goal" = info ]; then v=info; else
            v=$(verdict "$r" "$goal"); [ "$v" = FAIL ] && FAILS=$((FAILS + 1)); fi
        LAT_ROWS+=("$e|$cells$r|$goal|$v")
    done
    part_done "list+search" "$T_PART"
    LAT_HEAD="request|$(for hi in $bounds; do printf 'p50/p99 ms @%s|' "$hi"; done)p99 ratio|goal|result"
    NOTES+=("Latency: wrk -t1 -c4 -d${LAT_SECONDS}s per request, $LAT_ROUNDS rounds over all requests, the round with the lowest p99 of each; list_first = GET /customers?limit=25, list_cursor = the page after the middle row (a real cursor), sort_name = ?sort=name&limit=25, search = /search?q=$TERM_Q&types=customers (20 hits at every size), sort_name_cursor = sorted by name from the middle (info).")
fi

# ---- 4: CSV import vs sqlite3 .import ---------------------------------------

if has_part import; then
    T_PART=$(now)
    big=$DATA/pipeline_${PIPE_ROWS}.csv
    if [ ! -s "$big" ] || [ bench/gen_pipeline.py -nt "$big" ]; then
        log "generating a $PIPE_ROWS-row pipeline from $PIPELINE_CSV"
        $PY bench/gen_pipeline.py "$PIPELINE_CSV" "$big" "$PIPE_ROWS"
    fi
    for spec in "pipeline $PIPELINE_CSV" "pipeline_${PIPE_ROWS} $big"; do
        read -r label file <<<"$spec"
        rows=$(($(wc -l <"$file") - 1))
        # Reference: sqlite3's own CSV import into a new plain table.
        best=""
        reps=3; [ "$rows" -gt 100000 ] && reps=1
        wait_quiet "sqlite3 .import of $label"
        for i in $(seq $reps); do
            rm -f "$WORK/plain_import.db"*
            t0=$(now)
            sqlite3 "$WORK/plain_import.db" '.mode csv' ".import $file t"
            t1=$(now)
            s=$(elapsed "$t0" "$t1")
            if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$s; fi
        done
        got=$(sqlite3 "$WORK/plain_import.db" "SELECT count(*) FROM t")
        [ "$got" = "$rows" ] || log "WARNING: sqlite3 .import loaded $got of $rows rows"
        ref_rps=$(awk -v n="$rows" -v s="$best" 'BEGIN { printf "%.0f", n / s }')
        log "sqlite3 .import $label: $rows rows in ${best}s ($ref_rps rows/s)"
        result "import_sqlite3_$label rows=$rows seconds=$best rps=$ref_rps"

        # ---------------------------------------------------------------
        # IMPORT STEP: `axon import` of the same file as deals, after the
        # accounts and products it refers to (those two are not timed).
        # ---------------------------------------------------------------
        IDIR=$WORK/import_$label
        new_db "$IDIR"
        axon_rps="" note=""
        M=$ROOT/data/mappings
        if try_import "$IDIR" products "$CRM_DIR/products.csv" --mapping "$M/products.json" &&
           try_import "$IDIR" customers "$CRM_DIR/accounts.csv" --mapping "$M/accounts.json" &&
           try_import "$IDIR" users "$CRM_DIR/sales_teams.csv" --mapping "$M/sales_managers.json" &&
           try_import "$IDIR" users "$CRM_DIR/sales_teams.csv" --mapping "$M/sales_agents.json"; then
            wait_quiet "axon import of $label"
            log "axon import of $label ($rows rows) ..."
            t0=$(now)
            if try_import "$IDIR" deals "$file" --mapping "$M/sales_pipeline.json" --key external_id; then
                t1=$(now)
                s=$(elapsed "$t0" "$t1")
                got=$(count_rows "$IDIR" deals)
                axon_rps=$(awk -v n="$got" -v s="$s" 'BEGIN { printf "%.0f", n / s }')
                log "axon import $label: $got of $rows deals in ${s}s ($axon_rps rows/s): $(tail -1 "$IDIR/import.log")"
                result "import_axon_$label rows=$got seconds=$s rps=$axon_rps"
                [ "$got" = "$rows" ] || note=" ($got of $rows rows stored)"
                NOTES+=("axon import $label: $got of $rows deals in ${s}s wall (process start included)")
            fi
        fi
        if [ -n "$axon_rps" ]; then
            add_row "CSV import rows/s, $label$note" "$axon_rps" "$ref_rps" \
                "$(ratio "$axon_rps" "$ref_rps")" ">=0.30" "-" "-"
        else
            ROWS+=("CSV import rows/s, $label|SKIPPED|$ref_rps|n/a|>=0.30|SKIPPED (importer not ready)|-|-")
            FAILS=$((FAILS + 1))
        fi
    done
    part_done "import" "$T_PART"
    NOTES+=("Import reference: sqlite3 x.db '.mode csv' '.import FILE t' into a new table (best of 3 for small files). Axon: axon import --mapping data/mappings/sales_pipeline.json --key external_id (the demo's mapping) into a fresh database already holding the products, accounts, managers and agents (imported first, not timed).")
fi

# ---- 5: workflows ----------------------------------------------------------------

# upload_pack DIR PORT: zip a pack folder, upload and publish it; sets PACK_ID.
upload_pack() {
    local dir=$1 port=$2 zip="$WORK/$(basename "$1").zip" out
    (cd "$dir" && $PY -c 'import sys, zipfile, os
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for n in sorted(os.listdir(".")):
        z.write(n)' "$zip")
    out=$(curl -sf -H "Authorization: Bearer $KEY" -H 'Content-Type: application/zip' \
        --data-binary @"$zip" "http://127.0.0.1:$port/api/v1/packs") || die "upload of $dir failed"
    PACK_ID=$($PY -c 'import json, sys; print(json.load(sys.stdin)["pack_id"])' <<<"$out")
    curl -sf -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d '{}' \
        "http://127.0.0.1:$port/api/v1/packs/$PACK_ID/versions/1.0.0/publish" >/dev/null ||
        die "publish of $dir failed"
}

if has_part workflow; then
    T_PART=$(now)
    WDIR=$WORK/workflow
    new_db "$WDIR"
    start_axon "$WDIR"
    log "workflows: axon on port $PORT; POST warm-up"
    run_wrk junk 2 64 2 post_customer.lua "http://127.0.0.1:$PORT/"
    best_plain="" best_before=""
    for r in $(seq "$ROUNDS"); do
        wait_idle "$SERVER_PID"; wait_quiet "POST without a pack (round $r)"
        run_wrk line 2 64 "$SECONDS_RUN" post_customer.lua "http://127.0.0.1:$PORT/"
        log "  round $r no pack: $line"
        result "workflow_post_plain_round$r $line"
        if [ -z "$best_plain" ] || awk -v a="$(field rps "$line")" -v b="$(field rps "$best_plain")" 'BEGIN { exit !(a > b) }'; then best_plain=$line; fi
        [ "$r" = 1 ] && upload_pack "$ROOT/bench/packs/bench-before" "$PORT" && BEFORE_ID=$PACK_ID
        [ "$r" != 1 ] && curl -sf -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
            -d '{}' "http://127.0.0.1:$PORT/api/v1/packs/$BEFORE_ID/versions/1.0.0/publish" >/dev/null
        run_wrk junk 2 64 2 post_customer.lua "http://127.0.0.1:$PORT/"
        wait_idle "$SERVER_PID"; wait_quiet "POST with a before handler (round $r)"
        run_wrk line 2 64 "$SECONDS_RUN" post_customer.lua "http://127.0.0.1:$PORT/"
        log "  round $r before handler: $line"
        result "workflow_post_before_round$r $line"
        if [ -z "$best_before" ] || awk -v a="$(field rps "$line")" -v b="$(field rps "$best_before")" 'BEGIN { exit !(a > b) }'; then best_before=$line; fi
        curl -sf -X POST -H "Authorization: Bearer $KEY" \
            "http://127.0.0.1:$PORT/api/v1/packs/$BEFORE_ID/disable" >/dev/null
    done
    add_row "POST rps with a before handler (vs none)" "$(field rps "$best_before")" \
        "$(field rps "$best_plain")" "$(ratio "$(field rps "$best_before")" "$(field rps "$best_plain")")" \
        ">=0.70" "$(ms "$(field p50_us "$best_before")")/$(ms "$(field p99_us "$best_before")") ms" \
        "$(ms "$(field p50_us "$best_plain")")/$(ms "$(field p99_us "$best_plain")") ms"
    runs=$(sqlite3 "$WDIR/axon.db" "SELECT count(*) FROM pack_runs WHERE outcome='ok'")
    NOTES+=("Before handler: bench/packs/bench-before on customers.created (reads the record and a setting, sets a field); same server and database, best of $ROUNDS alternating rounds; $runs runs logged ok.")

    upload_pack "$ROOT/bench/packs/bench-after" "$PORT"
    wait_idle "$SERVER_PID"; wait_quiet "after handlers"
    log "after handlers: POST load for ${SECONDS_RUN}s, then until the outbox is empty"
    run_wrk line 2 64 "$SECONDS_RUN" post_customer.lua "http://127.0.0.1:$PORT/"
    for i in $(seq 600); do
        pending=$(sqlite3 "$WDIR/axon.db" "SELECT count(*) FROM deliveries WHERE status='pending'")
        [ "$pending" = 0 ] && break
        sleep 0.5
    done
    read -r done span lag <<<"$(sqlite3 -separator ' ' "$WDIR/axon.db" \
        "SELECT count(*), (julianday(max(finished_at)) - julianday(min(created_at))) * 86400,
                avg(julianday(finished_at) - julianday(created_at)) * 86400000
         FROM deliveries WHERE status='done'")"
    eps=$(awk -v n="$done" -v s="$span" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "n/a" }')
    result "workflow_after done=$done seconds=$span eps=$eps lag_ms=$lag posts=$line"
    ROWS+=("after-handler deliveries/s (one write each)|$eps|-|-|info|info|lag avg $(awk -v l="$lag" 'BEGIN { printf "%.0f", l }') ms|-")
    NOTES+=("After handlers: bench/packs/bench-after adds a note per customers.created; $done deliveries done in ${span}s from the first event to the last delivery, while wrk POSTed for ${SECONDS_RUN}s; lag = event to delivery done; $pending left pending.")
    stop_server
    part_done "workflow" "$T_PART"
fi

# ---- 6: tagging ---------------------------------------------------------------------

if has_part tagging; then
    T_PART=$(now)
    log "tagging: building bench/intent_speed.c against the server's objects"
    gcc -O2 -std=c11 -D_GNU_SOURCE -Iinclude -Ibuild/gen -o "$OUT/intent_speed" \
        bench/intent_speed.c $(ls build/obj/*.o | grep -v '/main\.o$') \
        $(cat build/libs) -lcsv -lm -pthread
    wait_quiet "tagging"
    "$OUT/intent_speed" >"$WORK/tagging.txt" || die "intent_speed failed"
    sed 's/^/    /' "$WORK/tagging.txt" >&2
    line=$(grep '^summary ' "$WORK/tagging.txt")
    result "tagging $line"
    add_row "tagging MB/s (tags_compute, $(field terms "$line") terms) vs memmem one term" \
        "$(field tags "$line")" "$(field memmem "$line")" "$(field ratio "$line")" ">=0.25" "-" "-"
    ROWS+=("matcher alone MB/s (intent_match) vs memmem|$(field match "$line")|$(field memmem "$line")|$(field match_ratio "$line")|info|info|-|-")
    NOTES+=("Tagging: $(field mb "$line") MB of real review text (waimai, online shopping, Comcast complaints), one call per record, best of 5; tags_compute = matching + scores + evidence JSON, without sentiment (the model alone runs at $(field sentiment "$line") MB/s). memmem looks for 物流 in the same text. Where the time goes: docs/intents.md.")
    part_done "tagging" "$T_PART"
fi

# ---- summary ------------------------------------------------------------------

{
    echo "Axon benchmark summary  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); sqlite3 $(sqlite3 --version | cut -d' ' -f1); axon $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+dirty')"
    echo
    if [ ${#ROWS[@]} -gt 0 ]; then
        {
            echo "benchmark|Axon|reference|ratio|goal|result|Axon p50/p99|ref p50/p99"
            printf '%s\n' "${ROWS[@]}"
        } | column -t -s '|' -o '  '
        echo
    fi
    if [ ${#LAT_ROWS[@]} -gt 0 ]; then
        { echo "$LAT_HEAD"; printf '%s\n' "${LAT_ROWS[@]}"; } | column -t -s '|' -o '  '
        echo
    fi
    for n in "${NOTES[@]}"; do echo "- $n"; done
    [ -s "$WORK/notes.extra" ] && sed 's/^/- /' "$WORK/notes.extra"
    echo "- load average at start: $LOAD_AT_START; run time: ${PART_TIMES[*]:-}, total $(elapsed "$RUN_T0" "$(now)")s"
    echo
    if [ "$FAILS" = 0 ]; then echo "OVERALL: PASS"; else echo "OVERALL: $FAILS goal(s) missed or skipped"; fi
} | tee "$OUT/summary.txt"

if [ "${BENCH_STRICT:-0}" = 1 ] && [ "$FAILS" != 0 ]; then exit 1; fi
exit 0
