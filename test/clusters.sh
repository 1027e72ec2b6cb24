# test/clusters.sh — several throwaway PostgreSQL clusters on this machine, for
# the tests and benchmarks that need more than one server (test/replicas.sh,
# test/shards.sh, bench/scale/run.sh).  Sourced after scripts/lib.sh.
#
#   clusters_init             a parent directory under /tmp for every cluster, removed at exit
#   new_cluster NAME          a new cluster NAME (shared_preload_libraries = animerec,
#                             streaming replication allowed), started on a random port
#   new_standby NAME PRIMARY  a streaming hot standby of PRIMARY (pg_basebackup -R), started
#   pg NAME ARGS...           psql -XAtq -v ON_ERROR_STOP=1 against cluster NAME (database postgres
#                             unless ARGS give -d)
#   pg_ctl_of NAME ARGS...    pg_ctl of cluster NAME (-D and -l given)
#   conninfo NAME [DB]        the libpq connection string of cluster NAME
#   wait_until DEADLINE_S NAME SQL
#                             poll SQL on NAME every 20 ms until it returns t; false after DEADLINE_S
#
# Every cluster listens on a Unix socket in its own directory only, on a port
# chosen at random in 20000-39999 (a taken port is tried again).  As root,
# the servers run as user postgres (initdb refuses root).

CLUSTERS_BIN=$("$PG_CONFIG" --bindir)
CLUSTERS_DIR=""
CLUSTERS_RUN_AS=""
declare -A CLUSTER_PORT=()

# Create the parent directory and remove every cluster at exit.
clusters_init() {
	CLUSTERS_DIR=$(mktemp -d /tmp/animerec-clusters.XXXXXX)
	chmod 755 "$CLUSTERS_DIR"
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$CLUSTERS_DIR"
		CLUSTERS_RUN_AS="runuser -u postgres --"
	fi
	trap clusters_stop_all EXIT
}

# Stop every cluster (immediate mode) and remove the directory.
clusters_stop_all() {
	local name
	[ -n "$CLUSTERS_DIR" ] || return 0
	for name in "${!CLUSTER_PORT[@]}"; do
		pg_ctl_of "$name" -m immediate stop >/dev/null 2>&1
	done
	[ -n "${KEEP_CLUSTER:-}" ] || rm -rf "$CLUSTERS_DIR"
	CLUSTERS_DIR=""
}

# pg_ctl_of NAME ARGS...: pg_ctl for cluster NAME
pg_ctl_of() {
	local name=$1
	shift
	$CLUSTERS_RUN_AS "$CLUSTERS_BIN/pg_ctl" -D "$CLUSTERS_DIR/$name/data" -l "$CLUSTERS_DIR/$name/log" "$@"
}

# conninfo NAME [DB]: connection string of cluster NAME
conninfo() {
	echo "host=$CLUSTERS_DIR/$1 port=${CLUSTER_PORT[$1]} dbname=${2:-postgres} user=postgres"
}

# pg NAME ARGS...: psql against cluster NAME, tuples only, stop at the first error
pg() {
	local name=$1
	shift
	"$CLUSTERS_BIN/psql" -XAtq -v ON_ERROR_STOP=1 -h "$CLUSTERS_DIR/$name" -p "${CLUSTER_PORT[$name]}" \
		-U postgres -d postgres "$@"
}

# cluster_conf NAME: append this cluster's own settings to its postgresql.conf
cluster_conf() {
	cat >>"$CLUSTERS_DIR/$1/data/postgresql.conf" <<CONF
port = ${CLUSTER_PORT[$1]}
listen_addresses = ''
unix_socket_directories = '$CLUSTERS_DIR/$1'
CONF
}

# cluster_start NAME: start cluster NAME on a random free port (three tries)
cluster_start() {
	local name=$1 try
	for try in 1 2 3; do
		CLUSTER_PORT[$name]=$((20000 + RANDOM % 20000))
		cluster_conf "$name"
		pg_ctl_of "$name" -w -t 60 start >/dev/null 2>&1 && return 0
	done
	echo "Bail out! cluster $name did not start"
	sed 's/^/# /' "$CLUSTERS_DIR/$name/log"
	exit 1
}

# new_cluster NAME: a new primary cluster NAME, started.  The first call runs
# initdb into a template that is never started; every cluster is a copy of it
# (initdb costs seconds on a busy machine, a copy a fraction of one)
new_cluster() {
	local name=$1
	if [ ! -d "$CLUSTERS_DIR/template" ]; then
		$CLUSTERS_RUN_AS "$CLUSTERS_BIN/initdb" -D "$CLUSTERS_DIR/template" -U postgres --auth=trust \
			-E UTF8 --locale=C.UTF-8 --wal-segsize=1 >/dev/null || { echo "Bail out! initdb failed"; exit 1; }
	fi
	$CLUSTERS_RUN_AS mkdir -p "$CLUSTERS_DIR/$name"
	$CLUSTERS_RUN_AS cp -a "$CLUSTERS_DIR/template" "$CLUSTERS_DIR/$name/data"
	cat >>"$CLUSTERS_DIR/$name/data/postgresql.conf" <<CONF
shared_preload_libraries = 'animerec'
max_connections = 30
shared_buffers = 16MB
fsync = off
max_wal_senders = 5
wal_keep_size = 16MB
min_wal_size = 4MB
max_wal_size = 64MB
hot_standby_feedback = on
cluster_name = '$name'
CONF
	cluster_start "$name"
}

# new_standby NAME PRIMARY: a streaming hot standby NAME of cluster PRIMARY, started
new_standby() {
	local name=$1 primary=$2
	$CLUSTERS_RUN_AS mkdir -p "$CLUSTERS_DIR/$name"
	$CLUSTERS_RUN_AS "$CLUSTERS_BIN/pg_basebackup" -D "$CLUSTERS_DIR/$name/data" -R -X stream -c fast \
		-h "$CLUSTERS_DIR/$primary" -p "${CLUSTER_PORT[$primary]}" -U postgres >/dev/null ||
		{ echo "Bail out! pg_basebackup of $name failed"; exit 1; }
	echo "cluster_name = '$name'" >>"$CLUSTERS_DIR/$name/data/postgresql.conf"
	cluster_start "$name"
}

# wait_until DEADLINE_S NAME SQL: poll SQL on NAME every 20 ms until it returns t
wait_until() {
	local deadline=$(($(date +%s) + $1)) name=$2 sql=$3
	while [ "$(date +%s)" -lt "$deadline" ]; do
		[ "$(pg "$name" -c "$sql" 2>/dev/null)" = t ] && return 0
		sleep 0.02
	done
	return 1
}
