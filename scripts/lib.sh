# scripts/lib.sh — shared set-up for scripts/test and scripts/demo (sourced, not run).
#
#   ensure_packages   install missing Debian packages as root, or say what to install
#   build_install     make -j(vCPUs) && make install (with sudo when not root; skipped when the
#                     installed files are the built ones)
#   start_cluster     a throwaway PostgreSQL cluster with shared_preload_libraries=animerec
#                     (CLUSTER_PRELOAD= start_cluster: without preloading);
#                     exports PGHOST PGPORT PGUSER PGDATABASE; stopped and removed on exit
#
# PG_CONFIG selects the PostgreSQL installation (default: pg_config on PATH).

PG_CONFIG=${PG_CONFIG:-pg_config}
export PG_CONFIG
ANIMEREC_PACKAGES="postgresql-15 postgresql-server-dev-15 libopenblas-dev postgresql-15-pgtap
libtap-parser-sourcehandler-pgtap-perl build-essential pkg-config clang libclang-rt-14-dev valgrind
postgresql-15-plproxy postgresql-15-cron default-jdk-headless libpostgresql-jdbc-java unixodbc odbc-postgresql python3-psycopg2"

say() { printf '%s\n' "$*" >&2; }

# Install the Debian packages animerec needs when some are missing.
ensure_packages() {
	local missing="" p
	for p in $ANIMEREC_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" = 0 ]; then
		say "installing:$missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >/dev/null && apt-get install -y -qq $missing >/dev/null ||
			{ say "apt-get install failed for:$missing"; exit 1; }
	else
		say "missing Debian packages; install them with:"
		say "  sudo apt-get install -y$missing"
		exit 1
	fi
}

# Are the built extension (library, control file, SQL scripts) and the router
# extension's files the ones installed?
installed_is_current() {
	local share f
	share="$("$PG_CONFIG" --sharedir)/extension"
	cmp -s animerec.so "$("$PG_CONFIG" --pkglibdir)/animerec.so" || return 1
	for f in animerec.control sql/animerec--*.sql router/animerec_router.control router/animerec_router--*.sql; do
		cmp -s "$f" "$share/${f##*/}" || return 1
	done
}

# Build the extension and install it into $PG_CONFIG's installation, unless the
# same files are installed already (servers of another run may be loading them).
build_install() {
	make -s -j"$(nproc)" PG_CONFIG="$PG_CONFIG" >/dev/null || { say "build failed"; exit 1; }
	installed_is_current && return 0
	if [ -w "$("$PG_CONFIG" --pkglibdir)" ]; then
		make -s PG_CONFIG="$PG_CONFIG" install >/dev/null
	else
		sudo make -s PG_CONFIG="$PG_CONFIG" install >/dev/null
	fi || { say "make install failed"; exit 1; }
}

# Start a throwaway cluster in a temporary directory (as user postgres when
# run as root, since initdb refuses root) and export the libpq variables.
start_cluster() {
	local bindir run_as
	bindir=$("$PG_CONFIG" --bindir)
	CLUSTER_DIR=$(mktemp -d /tmp/animerec-cluster.XXXXXX)
	chmod 755 "$CLUSTER_DIR"
	run_as=""
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$CLUSTER_DIR"
		run_as="runuser -u postgres --"
	fi
	CLUSTER_RUN_AS=$run_as
	export CLUSTER_DIR CLUSTER_RUN_AS
	trap stop_cluster EXIT
	$run_as "$bindir/initdb" -D "$CLUSTER_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null ||
		{ say "initdb failed"; exit 1; }
	PGPORT=$(( 20000 + RANDOM % 20000 ))
	cat >>"$CLUSTER_DIR/data/postgresql.conf" <<CONF
port = $PGPORT
listen_addresses = ''
unix_socket_directories = '$CLUSTER_DIR'
shared_preload_libraries = '${CLUSTER_PRELOAD-animerec}'
max_connections = 40
fsync = off
CONF
	$run_as "$bindir/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/log" -w start >/dev/null ||
		{ say "cluster did not start:"; cat "$CLUSTER_DIR/log" >&2; exit 1; }
	export PGHOST=$CLUSTER_DIR PGPORT PGUSER=postgres PGDATABASE=postgres
	export PATH="$bindir:$PATH"
}

# Stop and remove the cluster started by start_cluster.
stop_cluster() {
	[ -n "${CLUSTER_DIR:-}" ] || return 0
	$CLUSTER_RUN_AS "$("$PG_CONFIG" --bindir)/pg_ctl" -D "$CLUSTER_DIR/data" -m immediate stop >/dev/null 2>&1
	[ -n "${KEEP_CLUSTER:-}" ] || rm -rf "$CLUSTER_DIR"
	CLUSTER_DIR=""
}
