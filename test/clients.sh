#!/usr/bin/env bash
# test/clients.sh — real client drivers against a trained model, connected as
# the least-privileged dashboard role of docs/bi.md (created exactly as the
# documentation says: LOGIN plus animerec.grant_serving, nothing else):
#   JDBC    pgjdbc PreparedStatement, 250 executions (bigint user, int k) across
#           the switch to a server-side generic plan, each equal to literal SQL
#   ODBC    psqlODBC through unixODBC and a DSN (isql), the recommend query
#   psycopg2  a named (server-side) cursor over recommend_all, and an error's
#           SQLSTATE and hint
# Starts its own throwaway cluster listening on 127.0.0.1 (JDBC needs TCP);
# TAP output.  Needs default-jdk-headless, libpostgresql-jdbc-java, unixodbc,
# odbc-postgresql and python3-psycopg2 (scripts/lib.sh installs them).
set -u
cd "$(dirname "$0")/.."
. scripts/lib.sh
. test/tap.sh
start_cluster
PSQL="psql -X -q -v ON_ERROR_STOP=1"
$PSQL -c "ALTER SYSTEM SET listen_addresses = '127.0.0.1'" >/dev/null
$CLUSTER_RUN_AS "$("$PG_CONFIG" --bindir)/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/log" -w restart >/dev/null
WORK=$(mktemp -d /tmp/animerec-clients.XXXXXX)
chmod 755 "$WORK"
trap 'rm -rf "$WORK"; stop_cluster' EXIT

# the owner's ratings and model (a non-superuser role), and a second model the dashboard may not use
$PSQL <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION animerec;
CREATE ROLE recsys;
CREATE SCHEMA recsys AUTHORIZATION recsys;
SET ROLE recsys;
CREATE TABLE recsys.ratings AS
SELECT u AS user_id, 1 + (u * 7 + s * 3) % 40 AS item_id, 1 + (u + s) % 10 AS rating, s AS rated_at
FROM generate_series(1, 300) u, generate_series(1, 8 + u % 5) s;
CREATE INDEX ON recsys.ratings (user_id, rated_at);
SET animerec.progress_notices = off;
CALL animerec.train('demo', 'recsys.ratings', dim => 16, hidden => 16, epochs => 2, seed => 1);
CALL animerec.train('private', 'recsys.ratings', dim => 8, hidden => 8, epochs => 1, seed => 2);
RESET ROLE;
SQL
# the dashboard role, exactly as docs/bi.md creates it
$PSQL >/dev/null <<'SQL'
CREATE ROLE dashboard LOGIN PASSWORD 'change-me';
SET ROLE recsys;
SELECT animerec.grant_serving('demo', 'dashboard');
SQL
ok '[ "$($PSQL -At -c "SELECT has_table_privilege('\''dashboard'\'', '\''recsys.ratings'\'', '\''SELECT'\'') OR EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = '\''dashboard'\''::regrole)")" = f ]' \
	"the dashboard role holds no table privilege and no role membership"
want() { $PSQL -At -c "$1"; }   # the answer of literal SQL, as the superuser

# ---- JDBC -------------------------------------------------------------------------
cat >"$WORK/Dashboard.java" <<'JAVA'
import java.sql.*;
import java.util.*;

// One PreparedStatement executed 250 times (users 1..250, k 10) against literal
// SQL; prints the counts, the prepared statement's plan counts and an error's SQLSTATE.
public class Dashboard {
    static String rows(ResultSet rs) throws SQLException {
        StringBuilder b = new StringBuilder();
        while (rs.next())
            b.append(rs.getInt(1)).append(':').append(rs.getLong(2)).append(':')
             .append(rs.getFloat(3)).append(':').append(rs.getBoolean(4)).append(' ');
        return b.toString();
    }

    public static void main(String[] a) throws Exception {
        Connection c = DriverManager.getConnection(a[0], "dashboard", "change-me");
        String q = "SELECT rank, item_id, probability, personalized FROM animerec.recommend(?, ?) ORDER BY rank";
        PreparedStatement ps = c.prepareStatement(q);
        Statement st = c.createStatement();
        int runs = 0, mismatches = 0, rowsSeen = 0;
        for (long user = 1; user <= 250; user++) {
            ps.setLong(1, user);
            ps.setInt(2, 10);
            String got = rows(ps.executeQuery());
            String lit = rows(st.executeQuery(
                "SELECT rank, item_id, probability, personalized FROM animerec.recommend(" + user + "::bigint, 10) ORDER BY rank"));
            runs++;
            rowsSeen += got.split(" ").length;
            if (!got.equals(lit) || got.isEmpty())
                mismatches++;
        }
        System.out.println("executions " + runs);
        System.out.println("mismatches " + mismatches);
        System.out.println("rows " + rowsSeen);
        ResultSet p = st.executeQuery(
            "SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0) FROM pg_prepared_statements"
            + " WHERE statement LIKE '%animerec.recommend(%' AND NOT from_sql");
        p.next();
        System.out.println("generic_plans " + p.getLong(1));
        System.out.println("custom_plans " + p.getLong(2));
        try {
            ps.setLong(1, 1);
            ps.setInt(2, 0);
            ps.executeQuery();
            System.out.println("sqlstate none");
        } catch (SQLException e) {
            System.out.println("sqlstate " + e.getSQLState());
        }
        c.close();
    }
}
JAVA
jdbc_url="jdbc:postgresql://127.0.0.1:$PGPORT/postgres"
if javac -d "$WORK" "$WORK/Dashboard.java" 2>"$WORK/javac.err"; then
	jout=$(java -cp "$WORK:/usr/share/java/postgresql.jar" Dashboard "$jdbc_url" 2>&1)
else
	jout=$(cat "$WORK/javac.err")
fi
echo "$jout" | sed 's/^/# jdbc: /'
is "$(echo "$jout" | sed -n 's/^executions //p')" 250 "JDBC: the PreparedStatement ran 250 times as the dashboard role"
is "$(echo "$jout" | sed -n 's/^mismatches //p')" 0 "JDBC: every execution equals the literal SQL"
ok '[ "$(echo "$jout" | sed -n "s/^generic_plans //p")" -gt 100 ]' \
	"JDBC: the server switched to a generic plan (pg_prepared_statements.generic_plans > 100)"
is "$(echo "$jout" | sed -n 's/^sqlstate //p')" 22023 "JDBC: k = 0 is refused with SQLSTATE 22023"

# ---- ODBC ---------------------------------------------------------------------------
# a DSN in a temporary directory: ODBCSYSINI for the driver, ODBCINI for the data source
cat >"$WORK/odbcinst.ini" <<INI
[PostgreSQL Unicode]
Driver = /usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so
INI
cat >"$WORK/odbc.ini" <<INI
[animerec]
Driver = PostgreSQL Unicode
Servername = 127.0.0.1
Port = $PGPORT
Database = postgres
Username = dashboard
Password = change-me
INI
odbc() { echo "$1" | ODBCSYSINI="$WORK" ODBCINI="$WORK/odbc.ini" isql -b -d'|' animerec 2>&1; }
q="SELECT string_agg(item_id::text || '/' || personalized, ',' ORDER BY rank) FROM animerec.recommend(42, 10)"
oout=$(odbc "$q")
echo "$oout" | sed 's/^/# odbc: /'
is "$oout" "$(want "$q")" "ODBC: the recommend query through a DSN equals psql's answer"
is "$(odbc "SELECT count(*) FROM animerec.recommend_all(3)")" 900 "ODBC: recommend_all through the DSN, 300 users x 3"

# ---- psycopg2 ------------------------------------------------------------------------
pout=$(/usr/bin/python3 - "host=127.0.0.1 port=$PGPORT dbname=postgres user=dashboard password=change-me" <<'PY' 2>&1
import sys
import psycopg2

conn = psycopg2.connect(sys.argv[1])
cur = conn.cursor("recommend_all_cursor")      # a named cursor: rows come from the server in batches
cur.itersize = 100
cur.execute("SELECT user_id, rank, item_id, probability, personalized, model_version"
            " FROM animerec.recommend_all(5)")
n = users = 0
versions = set()
last = None
for user_id, rank, item_id, probability, personalized, model_version in cur:
    n += 1
    users += user_id != last
    last = user_id
    versions.add(model_version)
print("rows", n, "users", users, "versions", ",".join(map(str, sorted(versions))))
cur.close()
conn.rollback()
try:
    c2 = conn.cursor()
    c2.execute("SELECT * FROM animerec.recommend(%s, %s, %s)", (1, 5, "private"))
except psycopg2.Error as e:
    print("sqlstate", e.pgcode)
    print("message", e.diag.message_primary)
    print("hint", e.diag.message_hint)
PY
)
echo "$pout" | sed 's/^/# psycopg2: /'
is "$(echo "$pout" | sed -n 's/^rows //p')" "1500 users 300 versions 1" \
	"psycopg2: a named cursor streams recommend_all (300 users x 5, model_version 1)"
is "$(echo "$pout" | sed -n 's/^sqlstate //p')" 42704 "psycopg2: a model without a grant gives SQLSTATE 42704"
is "$(echo "$pout" | sed -n 's/^message //p')" 'model "private" does not exist or you have no serving privilege on it' \
	"psycopg2: its message does not say the model exists"
is "$(echo "$pout" | sed -n 's/^hint //p')" "Models you may use: demo." "psycopg2: and the hint lists the usable models only"
done_testing
