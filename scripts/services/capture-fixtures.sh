#!/usr/bin/env bash
# capture-fixtures.sh - real end-to-end check of the services, and (re)generation of
# the Debezium event fixtures in testdata/captured/.
#
#   scripts/services/capture-fixtures.sh [OUTDIR]
#
# Restarts all services from scratch (clean topics), creates tables in MariaDB and
# PostgreSQL, registers Debezium connectors through Connect's REST API (one with
# JSON schemas enabled, one with schemas disabled, per source), runs a snapshot +
# insert/update/delete/truncate workload, consumes the topics with Kafka's
# ConsoleConsumer and saves one key+value per operation, byte for byte as the
# JsonConverter wrote them. Stops everything at the end and checks that no
# process is left.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SVC="$HERE/svc.sh"
OUT="${1:-$HERE/testdata/captured}"
RUN="${CDCSYNC_RUN_DIR:-/tmp/cdcsync-services}"
WORK="$RUN/capture"

say() { echo "capture: $*" >&2; }
die() { echo "capture: FAILED: $*" >&2; exit 1; }

command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq >/dev/null; } || die "jq missing"

"$SVC" stop all
"$SVC" start all
eval "$("$SVC" env)"
rm -rf "$WORK"; mkdir -p "$WORK" "$OUT"

maria() {
  mariadb --no-defaults -h "$CDCSYNC_TEST_MARIADB_HOST" -P "$CDCSYNC_TEST_MARIADB_PORT" \
    -u "$CDCSYNC_TEST_MARIADB_USER" -p"$CDCSYNC_TEST_MARIADB_PASSWORD" "$CDCSYNC_TEST_MARIADB_DB"
}
pg() { psql "$CDCSYNC_TEST_PG_DSN" -q -v ON_ERROR_STOP=1; }

# ---- source tables with a spread of column types, and the rows the snapshot reads ----
maria <<'SQL'
CREATE TABLE customers (
  id          INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name        VARCHAR(100) NOT NULL,
  email       VARCHAR(255) NULL,
  balance     DECIMAL(10,2) NOT NULL DEFAULT 0,
  score       DOUBLE NULL,
  active      BOOLEAN NOT NULL DEFAULT TRUE,
  birth_date  DATE NULL,
  created_at  DATETIME(6) NOT NULL,
  updated_at  TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  wake_time   TIME NULL,
  tier        ENUM('bronze','silver','gold') NOT NULL DEFAULT 'bronze',
  notes       TEXT NULL,
  avatar      VARBINARY(16) NULL
);
INSERT INTO customers (id, name, email, balance, score, active, birth_date, created_at, wake_time, tier, notes, avatar) VALUES
  (1, 'Ada Lovelace', 'ada@example.com', 1234.56, 3.14, TRUE, '1815-12-10', '2024-01-02 03:04:05.123456', '07:30:00', 'gold', 'first row', X'DEADBEEF'),
  (2, 'Zoë Ünicode ✓', NULL, -0.01, NULL, FALSE, NULL, '2024-02-29 23:59:59.000001', NULL, 'bronze', NULL, NULL);
SQL

pg <<'SQL'
CREATE TABLE customers (
  id          serial PRIMARY KEY,
  name        varchar(100) NOT NULL,
  email       varchar(255),
  balance     numeric(10,2) NOT NULL DEFAULT 0,
  score       double precision,
  active      boolean NOT NULL DEFAULT true,
  birth_date  date,
  created_at  timestamp(6) NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  wake_time   time,
  tier        text NOT NULL DEFAULT 'bronze',
  notes       text,
  avatar      bytea,
  attrs       jsonb,
  ext_id      uuid
);
INSERT INTO customers (id, name, email, balance, score, active, birth_date, created_at, wake_time, tier, notes, avatar, attrs, ext_id) VALUES
  (1, 'Ada Lovelace', 'ada@example.com', 1234.56, 3.14, true, '1815-12-10', '2024-01-02 03:04:05.123456', '07:30:00', 'gold', 'first row', '\xdeadbeef', '{"vip": true, "tags": ["a", "b"]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
  (2, 'Zoë Ünicode ✓', NULL, -0.01, NULL, false, NULL, '2024-02-29 23:59:59.000001', NULL, 'bronze', NULL, NULL, NULL, NULL);
SELECT setval('customers_id_seq', 2);
-- same shape, but REPLICA IDENTITY FULL: update/delete events carry the whole old row
CREATE TABLE customers_full (id int PRIMARY KEY, name varchar(100) NOT NULL, balance numeric(10,2) NOT NULL);
ALTER TABLE customers_full REPLICA IDENTITY FULL;
INSERT INTO customers_full VALUES (1, 'Ada Lovelace', 1234.56);
SQL

# ---- connectors ---------------------------------------------------------------------
register() {  # register NAME CONFIG-JSON
  local code
  code=$(curl -sS -o "$WORK/register-$1.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data "{\"name\":\"$1\",\"config\":$2}" "$CDCSYNC_TEST_CONNECT/connectors")
  [[ $code == 201 ]] || die "registering connector $1: HTTP $code $(cat "$WORK/register-$1.out")"
  local deadline=$((SECONDS + 120)) st
  while :; do
    st=$(curl -fsS "$CDCSYNC_TEST_CONNECT/connectors/$1/status" 2>/dev/null || true)
    [[ $(jq -r '[.connector.state, (.tasks[]?.state)] | join(",")' <<<"$st" 2>/dev/null) == RUNNING,RUNNING ]] && break
    if grep -q FAILED <<<"$st"; then die "connector $1 failed: $(jq -r '.tasks[]?.trace' <<<"$st" | head -5)"; fi
    ((SECONDS < deadline)) || die "connector $1 not RUNNING after 120s: $st"
    sleep 1
  done
  say "connector $1 RUNNING"
}

# converter settings: JsonConverter, with or without the {"schema","payload"} envelope
conv() {
  printf '"key.converter":"org.apache.kafka.connect.json.JsonConverter","key.converter.schemas.enable":"%s","value.converter":"org.apache.kafka.connect.json.JsonConverter","value.converter.schemas.enable":"%s"' "$1" "$1"
}

mariadb_connector() {  # NAME PREFIX SERVER_ID SCHEMAS
  register "$1" "{
    \"connector.class\": \"io.debezium.connector.mariadb.MariaDbConnector\",
    \"tasks.max\": \"1\",
    \"database.hostname\": \"$CDCSYNC_TEST_MARIADB_HOST\",
    \"database.port\": \"$CDCSYNC_TEST_MARIADB_PORT\",
    \"database.user\": \"$CDCSYNC_TEST_MARIADB_CDC_USER\",
    \"database.password\": \"$CDCSYNC_TEST_MARIADB_CDC_PASSWORD\",
    \"database.server.id\": \"$3\",
    \"topic.prefix\": \"$2\",
    \"database.include.list\": \"$CDCSYNC_TEST_MARIADB_DB\",
    \"schema.history.internal.kafka.bootstrap.servers\": \"$CDCSYNC_TEST_KAFKA\",
    \"schema.history.internal.kafka.topic\": \"$2.schema-history\",
    \"skipped.operations\": \"none\",
    $(conv "$4")
  }"
}

postgres_connector() {  # NAME PREFIX SCHEMAS
  register "$1" "{
    \"connector.class\": \"io.debezium.connector.postgresql.PostgresConnector\",
    \"tasks.max\": \"1\",
    \"database.hostname\": \"$CDCSYNC_TEST_PG_HOST\",
    \"database.port\": \"$CDCSYNC_TEST_PG_PORT\",
    \"database.user\": \"$CDCSYNC_TEST_PG_USER\",
    \"database.password\": \"$CDCSYNC_TEST_PG_PASSWORD\",
    \"database.dbname\": \"$CDCSYNC_TEST_PG_DB\",
    \"topic.prefix\": \"$2\",
    \"plugin.name\": \"pgoutput\",
    \"slot.name\": \"${2}_slot\",
    \"publication.name\": \"${2}_pub\",
    \"publication.autocreate.mode\": \"filtered\",
    \"table.include.list\": \"public.customers,public.customers_full\",
    \"skipped.operations\": \"none\",
    $(conv "$3")
  }"
}

mariadb_connector shop-mariadb shop 184001 true
mariadb_connector shopns-mariadb shopns 184002 false
postgres_connector pgshop-postgres pgshop true
postgres_connector pgshopns-postgres pgshopns false

# consume TOPIC COUNT FILE [IDLE_MS [MIN]]: read up to COUNT records from the beginning as
# "key<TAB>value" lines, stopping after IDLE_MS without a record; fail if fewer than MIN.
consume() {
  local topic=$1 count=$2 file=$3 idle=${4:-90000} min=${5:-$2}
  "$SVC" tool org.apache.kafka.tools.consumer.ConsoleConsumer \
    --bootstrap-server "$CDCSYNC_TEST_KAFKA" --topic "$topic" --from-beginning \
    --max-messages "$count" --timeout-ms "$idle" \
    --property print.key=true --property key.separator=$'\t' >"$file" 2>"$file.err" || true
  local n; n=$(wc -l <"$file")
  [[ $n -ge $min ]] || die "topic $topic: got $n of $min records (see $file and $file.err)"
}

# wait for the snapshots (2 read events per customers topic) before changing data
for t in shop shopns; do consume "$t.cdcsync.customers" 2 "$WORK/wait-$t.tsv"; done
for t in pgshop pgshopns; do consume "$t.public.customers" 2 "$WORK/wait-$t.tsv"; done
say "snapshots done"

# ---- streaming workload: c, u, d (+ tombstone), t ------------------------------------
maria <<'SQL'
INSERT INTO customers (name, email, balance, score, active, birth_date, created_at, wake_time, tier, notes, avatar)
  VALUES ('Alan Turing', 'alan@example.com', 42.00, 2.5, TRUE, '1912-06-23', '2024-03-01 12:00:00.5', '23:59:59.999999', 'silver', 'inserted while streaming', X'00FF');
UPDATE customers SET balance = balance + 100.25, email = 'ada@lovelace.example', tier = 'silver' WHERE id = 1;
DELETE FROM customers WHERE id = 2;
TRUNCATE TABLE customers;
SQL
pg <<'SQL'
INSERT INTO customers (name, email, balance, score, active, birth_date, created_at, wake_time, tier, notes, avatar, attrs, ext_id)
  VALUES ('Alan Turing', 'alan@example.com', 42.00, 2.5, true, '1912-06-23', '2024-03-01 12:00:00.5', '23:59:59.999999', 'silver', 'inserted while streaming', '\x00ff', '{"n": 1}', 'b1ffcd88-1d1c-4ef8-bb6d-6bb9bd380a22');
UPDATE customers SET balance = balance + 100.25, email = 'ada@lovelace.example', tier = 'silver' WHERE id = 1;
DELETE FROM customers WHERE id = 2;
TRUNCATE TABLE customers;
UPDATE customers_full SET balance = 99.99 WHERE id = 1;
DELETE FROM customers_full WHERE id = 1;
SQL
say "workload done"

# ---- save fixtures --------------------------------------------------------------------
# split FILE SOURCE MODE SUFFIX: one key/value pair per op kind, first occurrence wins.
split_ops() {
  local file=$1 base=$2 suffix=${3:-} key value op name
  while IFS=$'\t' read -r key value; do
    if [[ $value == null ]]; then op=tombstone
    else
      op=$(jq -r 'if has("payload") and has("schema") then .payload.op else .op end' <<<"$value")
      case $op in r) op="read" ;; c) op="create" ;; u) op="update" ;; d) op="delete" ;; t) op="truncate" ;; esac
    fi
    name="$base-$op$suffix"
    [[ -e $OUT/$name.value.json ]] && continue
    printf '%s\n' "$key" >"$OUT/$name.key.json"
    printf '%s\n' "$value" >"$OUT/$name.value.json"
  done <"$file"
}

# the whole topic in order, one {"key":..,"value":..} object per line (raw JSON spliced in)
stream() { while IFS=$'\t' read -r k v; do printf '{"key":%s,"value":%s}\n' "$k" "$v"; done <"$1" >"$2"; }

rm -f "$OUT"/*.json "$OUT"/*.jsonl
for mode in schemas noschemas; do
  if [[ $mode == schemas ]]; then m=shop p=pgshop; else m=shopns p=pgshopns; fi
  # MariaDB: 2 r + c + u + d + tombstone + t
  consume "$m.cdcsync.customers" 7 "$WORK/$m.tsv"
  split_ops "$WORK/$m.tsv" "mariadb-$mode"
  stream "$WORK/$m.tsv" "$OUT/mariadb-$mode.customers.stream.jsonl"
  # MariaDB schema change topic (DDL); keep the CREATE TABLE of customers
  consume "$m" 1000 "$WORK/$m-ddl.tsv" 8000 1
  grep -m1 'CREATE TABLE `customers`' "$WORK/$m-ddl.tsv" >"$WORK/$m-ddl-create.tsv" \
    || grep -m1 -i 'CREATE TABLE' "$WORK/$m-ddl.tsv" >"$WORK/$m-ddl-create.tsv" \
    || die "no CREATE TABLE on schema change topic $m"
  IFS=$'\t' read -r k v <"$WORK/$m-ddl-create.tsv"
  printf '%s\n' "$k" >"$OUT/mariadb-$mode-schema-change.key.json"
  printf '%s\n' "$v" >"$OUT/mariadb-$mode-schema-change.value.json"
  # PostgreSQL, REPLICA IDENTITY DEFAULT: 2 r + c + u + d + tombstone + t
  consume "$p.public.customers" 7 "$WORK/$p.tsv"
  split_ops "$WORK/$p.tsv" "postgres-$mode"
  stream "$WORK/$p.tsv" "$OUT/postgres-$mode.customers.stream.jsonl"
  # PostgreSQL, REPLICA IDENTITY FULL: r + u + d + tombstone
  consume "$p.public.customers_full" 4 "$WORK/$p-full.tsv"
  grep -v $'\tnull$' "$WORK/$p-full.tsv" | grep -E '"op":"[ud]"' >"$WORK/$p-full-ud.tsv" || true
  split_ops "$WORK/$p-full-ud.tsv" "postgres-$mode" "-replica-full"
  stream "$WORK/$p-full.tsv" "$OUT/postgres-$mode.customers_full.stream.jsonl"
done

# every fixture must be valid JSON, and every op must be there
for f in "$OUT"/*.json; do jq -e . "$f" >/dev/null 2>&1 || [[ $(cat "$f") == null ]] || die "$f is not JSON"; done
for f in "$OUT"/*.jsonl; do jq -e . "$f" >/dev/null || die "$f is not JSON lines"; done
for src in mariadb postgres; do for mode in schemas noschemas; do for op in read create update delete tombstone truncate; do
  [[ -s $OUT/$src-$mode-$op.value.json ]] || die "missing fixture $src-$mode-$op"
done; done; done
say "fixtures written to $OUT: $(ls "$OUT" | wc -l) files"

"$SVC" stop all
left=
for p in /proc/[0-9]*; do
  tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF "$RUN/" && left+=" ${p#/proc/}"
done
[[ -z $left ]] || die "processes left after stop:$left"
say "OK: all services stopped, no process left"
