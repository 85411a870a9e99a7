#!/usr/bin/env bash
# svc.sh - throwaway PostgreSQL, MariaDB, Kafka (KRaft), Kafka Connect + Debezium and
# an Apicurio schema registry (with Apicurio's Avro converter in Connect) for
# cdcsync's end-to-end tests. No Docker: databases come from Debian packages,
# Kafka/Connect/Debezium jars from Maven Central (see pom.xml). Everything listens
# on 127.0.0.1 only and keeps its state under one run dir.
#
#   svc.sh start  <postgres|mariadb|kafka|registry|connect|iceberg|all>   install if needed, start, wait until ready
#   svc.sh stop   <postgres|mariadb|kafka|registry|connect|iceberg|all>   stop, wait for exit, delete data dirs
#   svc.sh status [service|all]                          one line per service
#   svc.sh env    [service|all]                          `export` lines for the tests (eval them)
#   svc.sh fetch  [service|all]                          only install/download (warm the cache)
#   svc.sh fetch chromium / env chromium                 headless Chromium for the status-page test
#   svc.sh fetch duckdb-extensions / env duckdb-extensions  DuckDB 1.5.5 extensions (offline) + Python duckdb
#   svc.sh restart postgres                              restart PostgreSQL on the same data (kept)
#   svc.sh tool   <java main class> [args...]            run a Kafka CLI tool on the cached classpath
#
# See README.md next to this file for ports, env vars and timings.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SELF="$HERE/svc.sh"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"

# ---- settings (all overridable from the environment) -----------------------
CACHE="${CDCSYNC_CACHE:-$REPO_ROOT/.cache}/services"  # downloads, kept between runs
RUN="${CDCSYNC_RUN_DIR:-/tmp/cdcsync-services}"        # data dirs, logs, pid files

PG_PORT="${CDCSYNC_PG_PORT:-39432}"
MARIADB_PORT="${CDCSYNC_MARIADB_PORT:-39306}"
KAFKA_PORT="${CDCSYNC_KAFKA_PORT:-39092}"
KAFKA_CONTROLLER_PORT="${CDCSYNC_KAFKA_CONTROLLER_PORT:-39093}"
CONNECT_PORT="${CDCSYNC_CONNECT_PORT:-39083}"
REGISTRY_PORT="${CDCSYNC_REGISTRY_PORT:-39085}"
ICEBERG_PORT="${CDCSYNC_ICEBERG_PORT:-39481}"

KAFKA_VERSION="${CDCSYNC_KAFKA_VERSION:-4.1.1}"
DEBEZIUM_VERSION="${CDCSYNC_DEBEZIUM_VERSION:-3.3.0.Final}"
# Apicurio Registry 3.0.x runs on Java 17 (3.3 needs 21); its v2 API serves the
# 2.6 converter, its ccompat API (Confluent's) serves cdcsync
APICURIO_VERSION="${CDCSYNC_APICURIO_VERSION:-3.0.9}"

START_TIMEOUT="${CDCSYNC_START_TIMEOUT:-180}"  # seconds per service to become ready
STOP_TIMEOUT="${CDCSYNC_STOP_TIMEOUT:-60}"     # seconds before SIGKILL
KAFKA_HEAP="${CDCSYNC_KAFKA_HEAP:-512m}"
CONNECT_HEAP="${CDCSYNC_CONNECT_HEAP:-1g}"
REGISTRY_HEAP="${CDCSYNC_REGISTRY_HEAP:-384m}"
ICEBERG_HEAP="${CDCSYNC_ICEBERG_HEAP:-384m}"

# credentials created on start
PG_USER=postgres PG_PASSWORD=postgres PG_DB=postgres
MARIADB_USER=root MARIADB_PASSWORD=test MARIADB_DB=cdcsync
MARIADB_CDC_USER=debezium MARIADB_CDC_PASSWORD=dbz

KAFKA_LIBS="$CACHE/kafka-$KAFKA_VERSION/libs"
PLUGIN_PATH="$CACHE/debezium-$DEBEZIUM_VERSION/plugins"
DBZ_PLUGINS=(mariadb mysql postgres)
DBZ_CLASSES=(io.debezium.connector.mariadb.MariaDbConnector
             io.debezium.connector.mysql.MySqlConnector
             io.debezium.connector.postgresql.PostgresConnector)
# CDCSYNC_JDBC_SINK=1 adds the Debezium JDBC sink connector (make bench-peer
# measures cdcsync against it); the tests do not need it.
if [[ ${CDCSYNC_JDBC_SINK:-} == 1 ]]; then
  DBZ_PLUGINS+=(jdbc)
  DBZ_CLASSES+=(io.debezium.connector.jdbc.JdbcSinkConnector)
fi
APICURIO_HOME="$CACHE/apicurio-registry-$APICURIO_VERSION"
CONVERTER_DIR="$PLUGIN_PATH/apicurio-converter"
ICEBERG_LIBS="$CACHE/iceberg-rest/libs"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
# iceberg is not in "all": no e2e test needs it (make test-iceberg starts it);
# "stop all" and "status all" include it.
ALL=(postgres mariadb kafka registry connect)

# ---- small helpers ---------------------------------------------------------
say() { echo "cdcsync-services: $*" >&2; }

# fail COMPONENT WHY [LOGFILE]: one summary line, then the tail of the log, exit 1.
fail() {
  local comp=$1 why=$2 log=${3:-}
  echo "cdcsync-services: FAILED $comp: $why${log:+ (log: $log)}" >&2
  if [[ -n $log && -s $log ]]; then tail -n 20 "$log" | sed 's/^/    | /' >&2; fi
  exit 1
}

# alive PID: the process exists and is not a zombie.
alive() {
  local pid=${1:-} st
  [[ $pid =~ ^[0-9]+$ ]] && [[ -r /proc/$pid/stat ]] || return 1
  st=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ -n $st && $st != Z && $st != X ]]
}

# ours PID: alive and its command line mentions our run dir (guards against pid reuse).
ours() { alive "${1:-}" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "$RUN/"; }

pidof_svc() { cat "$RUN/$1/pid" 2>/dev/null || true; }
running() { ours "$(pidof_svc "$1")"; }

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_ready COMPONENT PID LOG CMD...: poll CMD until it succeeds; fail if the
# process dies or START_TIMEOUT passes (then stop it first).
wait_ready() {
  local comp=$1 pid=$2 log=$3; shift 3
  local deadline=$((SECONDS + START_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    alive "$pid" || fail "$comp" "process $pid exited during startup" "$log"
    if ((SECONDS >= deadline)); then
      stop_pid "$comp" "$pid"  # do not leave a half-started service behind
      fail "$comp" "not ready after ${START_TIMEOUT}s (process stopped)" "$log"
    fi
    sleep 1
  done
}

# stop_pid COMPONENT PID: SIGTERM, wait, then SIGKILL if it is still there.
stop_pid() {
  local comp=$1 pid=$2 deadline=$((SECONDS + STOP_TIMEOUT))
  ours "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  while alive "$pid" && ((SECONDS < deadline)); do sleep 0.5; done
  if alive "$pid"; then
    say "$comp: pid $pid ignored SIGTERM for ${STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while alive "$pid"; do sleep 0.2; done
  fi
}

# The services' ports lie in the kernel's ephemeral range (32768-60999), so
# an outgoing connection of anything on the machine may briefly hold one as
# its local port and make the service's bind fail ("Address already in
# use") though nothing listens. As root, reserve them: the kernel then never
# hands them out as ephemeral ports, while an explicit bind still works.
reserve_ports() {
  local f=/proc/sys/net/ipv4/ip_local_reserved_ports cur p
  [[ $EUID -eq 0 && -w $f ]] || return 0
  cur=$(<"$f")
  # the whole 39xxx block of the defaults, so that the first start (make
  # test's PostgreSQL) already protects the ports later ones (make e2e) use
  for p in 39000-39999 "$PG_PORT" "$MARIADB_PORT" "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$CONNECT_PORT" "$REGISTRY_PORT" "$ICEBERG_PORT"; do
    cur=${cur:+$cur,}$p
  done
  echo "$cur" >"$f" 2>/dev/null || true
}

# refuse to start on a port somebody else holds
check_port_free() {
  local comp=$1 port=$2
  if port_open "$port"; then fail "$comp" "port 127.0.0.1:$port is already in use by another process"; fi
}

APT_UPDATED=
apt_install() {  # apt_install COMPONENT PKG...
  local comp=$1; shift
  local log="$RUN/logs/apt-$comp.log"
  [[ $EUID -eq 0 ]] || fail "$comp" "package(s) $* missing and not root, cannot apt-get install them"
  say "$comp: installing $* with apt-get (log: $log)"
  export DEBIAN_FRONTEND=noninteractive
  if [[ -z $APT_UPDATED ]]; then
    apt-get update >>"$log" 2>&1 || fail "$comp" "apt-get update failed" "$log"
    APT_UPDATED=1
  fi
  apt-get install -y --no-install-recommends "$@" >>"$log" 2>&1 || fail "$comp" "apt-get install $* failed" "$log"
}

# as_user USER CMD...: run CMD as USER when we are root (PostgreSQL refuses to run as root).
as_user() {
  local u=$1; shift
  if [[ $EUID -eq 0 ]]; then runuser -u "$u" -- "$@"; else "$@"; fi
}

need_java() {
  command -v "$JAVA" >/dev/null || fail "$1" "java not found (need JDK/JRE 17+; set JAVA_HOME)"
  local v; v=$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [[ ${v:-0} -ge 17 ]] || fail "$1" "java ${v:-?} found, Kafka $KAFKA_VERSION needs Java 17+"
}

need_curl() { command -v curl >/dev/null || apt_install "$1" curl ca-certificates; }

# mvn_copy COMPONENT PROFILE OUTDIR: copy the profile's runtime jars into OUTDIR (cached).
mvn_copy() {
  local comp=$1 profile=$2 out=$3 log="$RUN/logs/mvn-$2.log" stamp
  # the stamp ties the cached jars to this pom.xml: editing the pom re-fetches
  stamp="$(sha256sum "$HERE/pom.xml" | cut -c1-16)"
  [[ -f $out/.complete && $(cat "$out/.complete") == "$stamp" ]] && return 0
  command -v mvn >/dev/null || apt_install "$comp" maven
  say "$comp: downloading $profile jars from Maven Central (log: $log)"
  rm -rf "$out"; mkdir -p "$out"
  # -B: batch mode; the local repo lives in the cache so a fresh ~/.m2 is not needed
  mvn -B -Dstyle.color=never -f "$HERE/pom.xml" -P "$profile" \
      -Dmaven.repo.local="$CACHE/m2" \
      -Dkafka.version="$KAFKA_VERSION" -Ddebezium.version="$DEBEZIUM_VERSION" \
      dependency:copy-dependencies -DoutputDirectory="$out" >"$log" 2>&1 \
    || fail "$comp" "mvn dependency:copy-dependencies -P $profile failed" "$log"
  ls "$out"/*.jar >/dev/null 2>&1 || fail "$comp" "no jars were copied for $profile" "$log"
  echo "$stamp" >"$out/.complete"
}

# ---- PostgreSQL --------------------------------------------------------------
PG_BIN=
pg_fetch() {
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [[ -z $PG_BIN || ! -x $PG_BIN/initdb ]]; then
    apt_install postgres postgresql
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  fi
  [[ -x $PG_BIN/pg_ctl ]] || fail postgres "pg_ctl not found under /usr/lib/postgresql/*/bin after install"
  # the OS user that owns and runs the cluster
  PG_OS_USER=postgres
  if [[ $EUID -eq 0 ]] && ! id "$PG_OS_USER" >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash "$PG_OS_USER"
  fi
  [[ $EUID -eq 0 ]] || PG_OS_USER=$(id -un)
}

pg_start() {
  local d="$RUN/postgres" log="$RUN/postgres/postgres.log"
  if running postgres; then say "postgres: already running (pid $(pidof_svc postgres))"; return 0; fi
  pg_fetch
  check_port_free postgres "$PG_PORT"
  rm -rf "$d"; mkdir -p "$d"
  if [[ $EUID -eq 0 ]]; then chown "$PG_OS_USER:" "$d"; fi
  as_user "$PG_OS_USER" "$PG_BIN/initdb" -D "$d/data" -U "$PG_USER" --auth=trust -E UTF8 --locale=C \
    >"$d/initdb.log" 2>&1 || fail postgres "initdb failed" "$d/initdb.log"
  # logical decoding for Debezium (pgoutput), loopback only, socket in the run dir,
  # durability off because the data is thrown away anyway.
  cat >>"$d/data/postgresql.conf" <<EOF
# --- cdcsync test settings ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$d'
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  cat >"$d/data/pg_hba.conf" <<EOF
local all         all                trust
local replication all                trust
host  all         all   127.0.0.1/32 trust
host  replication all   127.0.0.1/32 trust
EOF
  # pg_ctl daemonizes postgres (in its own session) and -w waits for startup
  as_user "$PG_OS_USER" "$PG_BIN/pg_ctl" -D "$d/data" -l "$log" -w -t "$START_TIMEOUT" start \
    >"$d/pg_ctl.log" 2>&1 9>&- || fail postgres "pg_ctl start failed" "$log"
  head -1 "$d/data/postmaster.pid" >"$d/pid"
  wait_ready postgres "$(pidof_svc postgres)" "$log" \
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER"
  "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -v ON_ERROR_STOP=1 \
    -c "ALTER USER $PG_USER PASSWORD '$PG_PASSWORD'" >>"$d/pg_ctl.log" 2>&1 \
    || fail postgres "psql bootstrap failed" "$d/pg_ctl.log"
  say "postgres: ready on 127.0.0.1:$PG_PORT (pid $(pidof_svc postgres))"
}

pg_stop() {
  local d="$RUN/postgres" pid; pid=$(pidof_svc postgres)
  if ours "$pid"; then
    pg_fetch
    as_user "$PG_OS_USER" "$PG_BIN/pg_ctl" -D "$d/data" -m fast -w -t "$STOP_TIMEOUT" stop \
      >>"$d/pg_ctl.log" 2>&1 || true
    stop_pid postgres "$pid"  # no-op if pg_ctl already stopped it
    say "postgres: stopped"
  fi
  rm -rf "$d/data" "$d/pid"
}

# pg_restart restarts the server on the same data dir (data kept): tests use it
# to check that a warehouse restart mid-stream loses nothing.
pg_restart() {
  local d="$RUN/postgres" log="$RUN/postgres/postgres.log"
  running postgres || fail postgres "restart: postgres is not running"
  pg_fetch
  as_user "$PG_OS_USER" "$PG_BIN/pg_ctl" -D "$d/data" -l "$log" -m fast -w -t "$START_TIMEOUT" restart \
    >>"$d/pg_ctl.log" 2>&1 9>&- || fail postgres "pg_ctl restart failed" "$log"
  head -1 "$d/data/postmaster.pid" >"$d/pid"
  wait_ready postgres "$(pidof_svc postgres)" "$log" \
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER"
  say "postgres: restarted on 127.0.0.1:$PG_PORT (pid $(pidof_svc postgres))"
}

# ---- MariaDB ----------------------------------------------------------------
MARIADBD=
mariadb_fetch() {
  MARIADBD=$(command -v mariadbd || ls /usr/sbin/mariadbd /usr/sbin/mysqld 2>/dev/null | head -1 || true)
  if [[ -z $MARIADBD ]] || ! command -v mariadb-admin >/dev/null; then
    apt_install mariadb mariadb-server mariadb-client
    MARIADBD=$(command -v mariadbd || ls /usr/sbin/mariadbd /usr/sbin/mysqld 2>/dev/null | head -1 || true)
  fi
  [[ -x $MARIADBD ]] || fail mariadb "mariadbd not found after installing mariadb-server"
  # mariadbd drops privileges to this user (it refuses to run as root unless told to)
  MARIADB_OS_USER=$(id -un)
  if [[ $EUID -eq 0 ]] && id mysql >/dev/null 2>&1; then MARIADB_OS_USER=mysql; fi
}

mariadb_sql() { mariadb --no-defaults --socket="$RUN/mariadb/mysqld.sock" -uroot; }

mariadb_start() {
  local d="$RUN/mariadb" log="$RUN/mariadb/mariadb.log"
  if running mariadb; then say "mariadb: already running (pid $(pidof_svc mariadb))"; return 0; fi
  mariadb_fetch
  check_port_free mariadb "$MARIADB_PORT"
  rm -rf "$d"; mkdir -p "$d/data"
  if [[ $EUID -eq 0 ]]; then chown -R "$MARIADB_OS_USER:" "$d"; fi
  mariadb-install-db --no-defaults --datadir="$d/data" --user="$MARIADB_OS_USER" \
    --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
    >"$d/install-db.log" 2>&1 || fail mariadb "mariadb-install-db failed" "$d/install-db.log"
  # --no-defaults: ignore /etc/mysql so the system service config does not leak in.
  # Binlog settings are what Debezium's MariaDB/MySQL connectors require.
  setsid "$MARIADBD" --no-defaults --user="$MARIADB_OS_USER" \
    --datadir="$d/data" --socket="$d/mysqld.sock" --pid-file="$d/mysqld.pid" \
    --port="$MARIADB_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
    --log-error="$log" \
    --log-bin=mysql-bin --binlog-format=ROW --binlog-row-image=FULL --server-id=1 \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    --innodb-buffer-pool-size=128M --innodb-flush-log-at-trx-commit=2 --sync-binlog=0 \
    >"$d/stdout.log" 2>&1 </dev/null 9>&- &
  echo $! >"$d/pid"
  wait_ready mariadb "$(pidof_svc mariadb)" "$log" \
    mariadb-admin --no-defaults --socket="$d/mysqld.sock" -uroot ping
  wait_ready mariadb "$(pidof_svc mariadb)" "$log" port_open "$MARIADB_PORT"
  mariadb_sql >>"$d/install-db.log" 2>&1 <<EOF || fail mariadb "creating users failed" "$d/install-db.log"
CREATE OR REPLACE USER '$MARIADB_USER'@'127.0.0.1' IDENTIFIED BY '$MARIADB_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$MARIADB_USER'@'127.0.0.1' WITH GRANT OPTION;
CREATE OR REPLACE USER '$MARIADB_CDC_USER'@'%' IDENTIFIED BY '$MARIADB_CDC_PASSWORD';
GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT, LOCK TABLES
  ON *.* TO '$MARIADB_CDC_USER'@'%';
CREATE DATABASE IF NOT EXISTS $MARIADB_DB;
EOF
  say "mariadb: ready on 127.0.0.1:$MARIADB_PORT (pid $(pidof_svc mariadb))"
}

mariadb_stop() {
  local d="$RUN/mariadb" pid; pid=$(pidof_svc mariadb)
  if ours "$pid"; then stop_pid mariadb "$pid"; say "mariadb: stopped"; fi
  rm -rf "$d/data" "$d/pid" "$d/mysqld.sock" "$d/mysqld.pid"
}

# ---- Kafka (KRaft, single combined broker+controller node) -------------------
kafka_fetch() { need_java kafka; mvn_copy kafka kafka "$KAFKA_LIBS"; }

# kjava MAIN ARGS...: run a Kafka class on the cached classpath, quiet logging
kjava() {
  "$JAVA" -Xmx256m -Dlog4j2.configurationFile="$HERE/conf/log4j2-tools.properties" \
    -cp "$KAFKA_LIBS/*" "$@"
}

kafka_start() {
  local d="$RUN/kafka" log="$RUN/kafka/kafka.log"
  if running kafka; then say "kafka: already running (pid $(pidof_svc kafka))"; return 0; fi
  kafka_fetch
  check_port_free kafka "$KAFKA_PORT"
  check_port_free kafka "$KAFKA_CONTROLLER_PORT"
  rm -rf "$d"; mkdir -p "$d/data"
  cat >"$d/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$d/data
num.partitions=1
auto.create.topics.enable=true
# single node: every internal topic has one replica
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
log.flush.interval.messages=9223372036854775807
EOF
  # cluster id = 16 random bytes, base64url without padding (what `kafka-storage random-uuid`
  # prints; done in bash to save a JVM start). Kafka's CLI dislikes a leading '-'.
  local cid=-
  while [[ $cid == -* ]]; do
    cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  done
  kjava kafka.tools.StorageTool format -t "$cid" -c "$d/server.properties" \
    >>"$d/format.log" 2>&1 || fail kafka "StorageTool format failed" "$d/format.log"
  setsid "$JAVA" -Xms"$KAFKA_HEAP" -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/conf/log4j2-server.properties" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$d/server.properties" >"$log" 2>&1 </dev/null 9>&- &
  echo $! >"$d/pid"
  wait_ready kafka "$(pidof_svc kafka)" "$log" port_open "$KAFKA_PORT"
  # a metadata round trip through the admin client proves the broker serves requests
  wait_ready kafka "$(pidof_svc kafka)" "$log" \
    timeout 60 "$JAVA" -Xmx256m -Dlog4j2.configurationFile="$HERE/conf/log4j2-tools.properties" \
      -cp "$KAFKA_LIBS/*" org.apache.kafka.tools.TopicCommand \
      --bootstrap-server "127.0.0.1:$KAFKA_PORT" --list
  say "kafka: ready on 127.0.0.1:$KAFKA_PORT (controller :$KAFKA_CONTROLLER_PORT, pid $(pidof_svc kafka))"
}

kafka_stop() {
  local d="$RUN/kafka" pid; pid=$(pidof_svc kafka)
  connect_stop  # the worker cannot outlive its broker usefully
  if ours "$pid"; then stop_pid kafka "$pid"; say "kafka: stopped"; fi
  rm -rf "$d/data" "$d/pid"
}

# ---- Kafka Connect (distributed worker) + Debezium plugins -------------------
connect_fetch() {
  kafka_fetch
  local p
  for p in "${DBZ_PLUGINS[@]}"; do
    mvn_copy connect "dbz-$p" "$PLUGIN_PATH/debezium-connector-$p"
  done
  converter_fetch
}

connect_url() { echo "http://127.0.0.1:$CONNECT_PORT"; }

connect_plugins_ready() {
  local body c
  body=$(curl -fsS --max-time 5 "$(connect_url)/connector-plugins") || return 1
  for c in "${DBZ_CLASSES[@]}"; do grep -qF "\"$c\"" <<<"$body" || return 1; done
  body=$(curl -fsS --max-time 5 "$(connect_url)/connector-plugins?connectorsOnly=false") || return 1
  grep -qF '"io.apicurio.registry.utils.converter.AvroConverter"' <<<"$body"
}

connect_start() {
  local d="$RUN/connect" log="$RUN/connect/connect.log"
  running kafka || kafka_start
  if running connect; then say "connect: already running (pid $(pidof_svc connect))"; return 0; fi
  connect_fetch
  need_curl connect
  check_port_free connect "$CONNECT_PORT"
  rm -rf "$d"; mkdir -p "$d"
  cat >"$d/connect-distributed.properties" <<EOF
bootstrap.servers=127.0.0.1:$KAFKA_PORT
group.id=cdcsync-connect
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=true
value.converter.schemas.enable=true
config.storage.topic=_cdcsync_connect_configs
offset.storage.topic=_cdcsync_connect_offsets
status.storage.topic=_cdcsync_connect_status
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
offset.storage.partitions=1
status.storage.partitions=1
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:$CONNECT_PORT
rest.advertised.host.name=127.0.0.1
rest.advertised.port=$CONNECT_PORT
plugin.path=$PLUGIN_PATH
# Debezium jars carry ServiceLoader manifests: skips a ~9s reflection scan at startup
plugin.discovery=service_load
# let tests override producer/consumer settings per connector
connector.client.config.override.policy=All
EOF
  setsid "$JAVA" -Xms256m -Xmx"$CONNECT_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/conf/log4j2-server.properties" \
    -cp "$KAFKA_LIBS/*" org.apache.kafka.connect.cli.ConnectDistributed \
    "$d/connect-distributed.properties" >"$log" 2>&1 </dev/null 9>&- &
  echo $! >"$d/pid"
  wait_ready connect "$(pidof_svc connect)" "$log" curl -fsS --max-time 5 "$(connect_url)/"
  wait_ready connect "$(pidof_svc connect)" "$log" connect_plugins_ready
  say "connect: ready on $(connect_url) (pid $(pidof_svc connect))"
}

connect_stop() {
  local d="$RUN/connect" pid; pid=$(pidof_svc connect)
  if ours "$pid"; then stop_pid connect "$pid"; say "connect: stopped"; fi
  rm -rf "$d/pid"
}

# ---- Apicurio Registry + its Avro converter for Connect ------------------------
# The registry: io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all
# (a Quarkus app, in-memory storage by default).
registry_fetch() {
  need_java registry
  local log="$RUN/logs/mvn-apicurio-app.log" tgz
  [[ -f $APICURIO_HOME/.complete ]] && return 0
  command -v mvn >/dev/null || apt_install registry maven
  say "registry: downloading Apicurio Registry $APICURIO_VERSION from Maven Central (log: $log)"
  mvn -B -Dstyle.color=never -Dmaven.repo.local="$CACHE/m2" dependency:get \
      -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" -Dtransitive=false >"$log" 2>&1 \
    || fail registry "mvn dependency:get io.apicurio:apicurio-registry-app failed" "$log"
  tgz="$CACHE/m2/io/apicurio/apicurio-registry-app/$APICURIO_VERSION/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz"
  rm -rf "$APICURIO_HOME"; mkdir -p "$APICURIO_HOME"
  tar -xzf "$tgz" -C "$APICURIO_HOME" || fail registry "cannot unpack $tgz"
  registry_jar >/dev/null || fail registry "no apicurio-registry-app-*-runner.jar in $tgz"
  touch "$APICURIO_HOME/.complete"
}

registry_jar() { find "$APICURIO_HOME" -name "apicurio-registry-app-*-runner.jar" | head -1 | grep .; }

# The converter: io.apicurio:apicurio-registry-utils-converter and its runtime
# dependencies (registry.xml; Kafka's own jars left out) as a Connect plugin.
# With plugin.discovery=service_load Connect finds converters only through
# ServiceLoader manifests, which the converter jar lacks: a small jar adds one.
converter_fetch() {
  local log="$RUN/logs/mvn-apicurio-converter.log" stamp tmp
  stamp="$(sha256sum "$HERE/registry.xml" | cut -c1-16)"
  [[ -f $CONVERTER_DIR/.complete && $(cat "$CONVERTER_DIR/.complete") == "$stamp" ]] && return 0
  command -v mvn >/dev/null || apt_install connect maven
  say "connect: downloading Apicurio's Avro converter from Maven Central (log: $log)"
  rm -rf "$CONVERTER_DIR"; mkdir -p "$CONVERTER_DIR"
  mvn -B -Dstyle.color=never -f "$HERE/registry.xml" -Dmaven.repo.local="$CACHE/m2" \
      dependency:copy-dependencies -DoutputDirectory="$CONVERTER_DIR" >"$log" 2>&1 \
    || fail connect "mvn dependency:copy-dependencies -f registry.xml failed" "$log"
  ls "$CONVERTER_DIR"/apicurio-registry-utils-converter-*.jar >/dev/null 2>&1 \
    || fail connect "the Apicurio converter jar was not copied" "$log"
  tmp=$(mktemp -d)
  mkdir -p "$tmp/META-INF/services"
  echo io.apicurio.registry.utils.converter.AvroConverter >"$tmp/META-INF/services/org.apache.kafka.connect.storage.Converter"
  (cd "$tmp" && python3 -c 'import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.write("META-INF/services/org.apache.kafka.connect.storage.Converter")' "$CONVERTER_DIR/cdcsync-apicurio-converter-services.jar") \
    || fail connect "cannot write the converter's ServiceLoader manifest"
  rm -rf "$tmp"
  echo "$stamp" >"$CONVERTER_DIR/.complete"
}

registry_url() { echo "http://127.0.0.1:$REGISTRY_PORT"; }

registry_start() {
  local d="$RUN/registry" log="$RUN/registry/registry.log" jar
  if running registry; then say "registry: already running (pid $(pidof_svc registry))"; return 0; fi
  registry_fetch
  need_curl registry
  check_port_free registry "$REGISTRY_PORT"
  jar=$(registry_jar)
  rm -rf "$d"; mkdir -p "$d"
  # -Dcdcsync.run puts the run dir on the command line, which is how `ours`
  # knows the process; the working directory keeps Quarkus' files there too
  (cd "$d" && exec setsid "$JAVA" -Xms64m -Xmx"$REGISTRY_HEAP" -Dcdcsync.run="$d" \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
    -jar "$jar" >"$log" 2>&1 </dev/null 9>&-) &
  echo $! >"$d/pid"
  wait_ready registry "$(pidof_svc registry)" "$log" curl -fsS --max-time 5 "$(registry_url)/apis/ccompat/v7/subjects"
  say "registry: ready on $(registry_url) (pid $(pidof_svc registry))"
}

registry_stop() {
  local d="$RUN/registry" pid; pid=$(pidof_svc registry)
  if ours "$pid"; then stop_pid registry "$pid"; say "registry: stopped"; fi
  rm -rf "$d/pid"
}

# ---- Iceberg REST catalog ---------------------------------------------------------
# Iceberg's own REST catalog test server (org.apache.iceberg.rest.RESTCatalogServer
# from iceberg-open-api's test fixtures; iceberg.xml lists the jars): a JDBC catalog
# in SQLite, table files under the run dir's warehouse directory. Jetty listens on
# all interfaces (the server takes no bind address); only loopback is used here.
iceberg_fetch() {
  need_java iceberg
  local log="$RUN/logs/mvn-iceberg.log" stamp
  stamp="$(sha256sum "$HERE/iceberg.xml" | cut -c1-16)"
  [[ -f $ICEBERG_LIBS/.complete && $(cat "$ICEBERG_LIBS/.complete") == "$stamp" ]] && return 0
  command -v mvn >/dev/null || apt_install iceberg maven
  say "iceberg: downloading the Iceberg REST catalog from Maven Central (log: $log)"
  rm -rf "$ICEBERG_LIBS"; mkdir -p "$ICEBERG_LIBS"
  mvn -B -Dstyle.color=never -f "$HERE/iceberg.xml" -Dmaven.repo.local="$CACHE/m2" \
      dependency:copy-dependencies -DoutputDirectory="$ICEBERG_LIBS" >"$log" 2>&1 \
    || fail iceberg "mvn dependency:copy-dependencies -f iceberg.xml failed" "$log"
  ls "$ICEBERG_LIBS"/iceberg-open-api-*-test-fixtures.jar >/dev/null 2>&1 \
    || fail iceberg "the iceberg-open-api test-fixtures jar was not copied" "$log"
  echo "$stamp" >"$ICEBERG_LIBS/.complete"
}

iceberg_url() { echo "http://127.0.0.1:$ICEBERG_PORT"; }

iceberg_start() {
  local d="$RUN/iceberg" log="$RUN/iceberg/iceberg.log"
  if running iceberg; then say "iceberg: already running (pid $(pidof_svc iceberg))"; return 0; fi
  iceberg_fetch
  need_curl iceberg
  check_port_free iceberg "$ICEBERG_PORT"
  rm -rf "$d"; mkdir -p "$d/warehouse"
  # the warehouse path on the command line is how `ours` knows the process
  CATALOG_WAREHOUSE="$d/warehouse" CATALOG_REST_PORT="$ICEBERG_PORT" CATALOG_URI="jdbc:sqlite:$d/catalog.db" \
    setsid "$JAVA" -Xms64m -Xmx"$ICEBERG_HEAP" -XX:+UseSerialGC -Dcdcsync.run="$d" \
    -cp "$ICEBERG_LIBS/*" org.apache.iceberg.rest.RESTCatalogServer >"$log" 2>&1 </dev/null 9>&- &
  echo $! >"$d/pid"
  wait_ready iceberg "$(pidof_svc iceberg)" "$log" curl -fsS --max-time 5 "$(iceberg_url)/v1/config"
  say "iceberg: ready on $(iceberg_url) (pid $(pidof_svc iceberg))"
}

iceberg_stop() {
  local d="$RUN/iceberg" pid; pid=$(pidof_svc iceberg)
  if ours "$pid"; then stop_pid iceberg "$pid"; say "iceberg: stopped"; fi
  rm -rf "$d/warehouse" "$d/catalog.db" "$d/pid"
}

# ---- Chromium (not a service: the status-page test runs it headless) -----------
CHROMIUM=/usr/bin/chromium
chromium_fetch() {
  [[ -x $CHROMIUM ]] || apt_install chromium chromium
  [[ -x $CHROMIUM ]] || fail chromium "$CHROMIUM not found after installing chromium"
}

# ---- DuckDB extensions (not a service: the DuckLake/Iceberg targets load them) ----
# DuckDB's extension host is not reachable from CI: the signed extension binaries
# are taken from PyPI's duckdb-extension-<name> wheels and laid out as DuckDB's
# extension_directory expects (<dir>/v<version>/<platform>/<name>.duckdb_extension).
# A venv with the same DuckDB version's Python package reads the targets back.
DUCKDB_VERSION="${CDCSYNC_DUCKDB_VERSION:-1.5.5}"
DUCKDB_EXT_DIR="$CACHE/duckdb-extensions"
DUCKDB_VENV="$CACHE/duckdb-python-$DUCKDB_VERSION"
duckdb_extensions_fetch() {
  local dest="$DUCKDB_EXT_DIR/v$DUCKDB_VERSION/linux_amd64" name file whl tmp
  mkdir -p "$dest"
  for name in ducklake iceberg avro httpfs postgres; do
    file=$name; [[ $name == postgres ]] && file=postgres_scanner
    [[ -s $dest/$file.duckdb_extension ]] && continue
    tmp=$(mktemp -d)
    python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
      --python-version 3.11 -d "$tmp" "duckdb-extension-$name==$DUCKDB_VERSION" >"$RUN/logs/duckdb-ext.log" 2>&1 ||
      fail duckdb-extensions "pip download duckdb-extension-$name==$DUCKDB_VERSION" "$RUN/logs/duckdb-ext.log"
    whl=$(ls "$tmp"/*.whl)
    python3 - "$whl" "$name" "$DUCKDB_VERSION" "$dest/$file.duckdb_extension" <<'PY' || fail duckdb-extensions "unpack $whl"
import os, sys, zipfile
whl, name, ver, out = sys.argv[1:]
member = f"duckdb_extension_{name}/extensions/v{ver}/{name}.duckdb_extension"
with zipfile.ZipFile(whl) as z, open(out + ".part", "wb") as f:
    f.write(z.read(member))
os.replace(out + ".part", out)
PY
    rm -rf "$tmp"
  done
  if ! "$DUCKDB_VENV/bin/python" -c "import duckdb" 2>/dev/null; then
    { python3 -m venv "$DUCKDB_VENV" && "$DUCKDB_VENV/bin/pip" install -q "duckdb==$DUCKDB_VERSION"; } \
      >"$RUN/logs/duckdb-venv.log" 2>&1 || fail duckdb-extensions "pip install duckdb==$DUCKDB_VERSION" "$RUN/logs/duckdb-venv.log"
  fi
}

# ---- status / env --------------------------------------------------------------
svc_port() {
  case $1 in
    postgres) echo "$PG_PORT" ;; mariadb) echo "$MARIADB_PORT" ;;
    kafka) echo "$KAFKA_PORT" ;; connect) echo "$CONNECT_PORT" ;; registry) echo "$REGISTRY_PORT" ;; iceberg) echo "$ICEBERG_PORT" ;;
  esac
}

svc_status() {
  if running "$1"; then
    printf '%-9s running  pid %-7s 127.0.0.1:%s\n' "$1" "$(pidof_svc "$1")" "$(svc_port "$1")"
  else
    printf '%-9s stopped\n' "$1"
    return 1
  fi
}

svc_env() {
  case $1 in
    postgres) cat <<EOF
export CDCSYNC_TEST_PG_DSN='postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB?sslmode=disable'
export CDCSYNC_TEST_PG_HOST=127.0.0.1 CDCSYNC_TEST_PG_PORT=$PG_PORT CDCSYNC_TEST_PG_USER=$PG_USER CDCSYNC_TEST_PG_PASSWORD=$PG_PASSWORD CDCSYNC_TEST_PG_DB=$PG_DB
export CDCSYNC_TEST_PG_RESTART='env CDCSYNC_RUN_DIR=$RUN CDCSYNC_PG_PORT=$PG_PORT $SELF restart postgres'
EOF
    ;;
    mariadb) cat <<EOF
export CDCSYNC_TEST_MARIADB_DSN='$MARIADB_USER:$MARIADB_PASSWORD@tcp(127.0.0.1:$MARIADB_PORT)/$MARIADB_DB'
export CDCSYNC_TEST_MARIADB_HOST=127.0.0.1 CDCSYNC_TEST_MARIADB_PORT=$MARIADB_PORT CDCSYNC_TEST_MARIADB_USER=$MARIADB_USER CDCSYNC_TEST_MARIADB_PASSWORD=$MARIADB_PASSWORD CDCSYNC_TEST_MARIADB_DB=$MARIADB_DB
export CDCSYNC_TEST_MARIADB_CDC_USER=$MARIADB_CDC_USER CDCSYNC_TEST_MARIADB_CDC_PASSWORD=$MARIADB_CDC_PASSWORD
EOF
    ;;
    kafka) cat <<EOF
export CDCSYNC_TEST_KAFKA=127.0.0.1:$KAFKA_PORT
export CDCSYNC_TEST_KAFKA_LIBS='$KAFKA_LIBS'
EOF
    ;;
    connect) echo "export CDCSYNC_TEST_CONNECT=$(connect_url)" ;;
    registry) echo "export CDCSYNC_TEST_REGISTRY=$(registry_url) CDCSYNC_TEST_REGISTRY_CCOMPAT=$(registry_url)/apis/ccompat/v7" ;;
    iceberg) echo "export CDCSYNC_ICEBERG_ENDPOINT=$(iceberg_url)" ;;
    chromium) echo "export CDCSYNC_CHROMIUM=$CHROMIUM" ;;
    duckdb-extensions) cat <<EOF
export CDCSYNC_DUCKDB_EXTENSIONS='$DUCKDB_EXT_DIR'
export CDCSYNC_DUCKDB_PYTHON='$DUCKDB_VENV/bin/python'
EOF
    ;;
  esac
}

# ---- main ----------------------------------------------------------------------
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

cmd=${1:-}; target=${2:-all}
[[ -n $cmd ]] || usage
case $target in all|postgres|mariadb|kafka|registry|connect|iceberg) ;;
  chromium|duckdb-extensions) [[ $cmd == fetch || $cmd == env ]] || usage ;;
  *) [[ $cmd == tool ]] || usage ;;
esac
if [[ $target == all ]]; then
  targets=("${ALL[@]}")
  [[ $cmd == stop || $cmd == status ]] && targets+=(iceberg)
else targets=("$target"); fi

mkdir -p "$RUN/logs" "$CACHE"
chmod 755 "$RUN"  # the postgres/mysql OS users must be able to traverse it

case $cmd in
  start|stop|fetch|restart)
    # one svc.sh at a time per run dir (parallel test packages may call start together);
    # daemons are started with 9>&- so they do not inherit (and hold) this lock
    exec 9>"$RUN/.lock"
    flock -w 900 9 || fail svc.sh "another svc.sh has held $RUN/.lock for 15 minutes"
    ;;
esac

case $cmd in
  start)
    reserve_ports
    for t in "${targets[@]}"; do
      case $t in postgres) pg_start ;; mariadb) mariadb_start ;; kafka) kafka_start ;; registry) registry_start ;; connect) connect_start ;; iceberg) iceberg_start ;; esac
    done ;;
  stop)
    # reverse order: connect before kafka
    for ((i = ${#targets[@]} - 1; i >= 0; i--)); do
      case ${targets[i]} in postgres) pg_stop ;; mariadb) mariadb_stop ;; kafka) kafka_stop ;; registry) registry_stop ;; connect) connect_stop ;; iceberg) iceberg_stop ;; esac
    done ;;
  restart)
    [[ $target == postgres ]] || fail svc.sh "restart supports postgres only"
    reserve_ports
    pg_restart ;;
  fetch)
    for t in "${targets[@]}"; do
      case $t in postgres) pg_fetch ;; mariadb) mariadb_fetch ;; kafka) kafka_fetch ;; registry) registry_fetch ;; connect) connect_fetch ;; iceberg) iceberg_fetch ;; chromium) chromium_fetch ;; duckdb-extensions) duckdb_extensions_fetch ;; esac
    done
    say "fetch done: ${targets[*]}" ;;
  status)
    rc=0; for t in "${targets[@]}"; do svc_status "$t" || rc=1; done; exit $rc ;;
  env)
    for t in "${targets[@]}"; do svc_env "$t"; done ;;
  tool)
    shift; [[ $# -ge 1 ]] || usage
    kafka_fetch >&2
    kjava "$@" ;;
  *) usage ;;
esac
