#!/usr/bin/env bash
# bench/load/run.sh — time of the data generator and the two loaders on a throwaway
# cluster (scripts/lib.sh): each statement RUNS times (default 3) into a fresh schema,
# timed by psql's \timing (server round trip, the statement alone).
#
#   generate_demo_data(users => 14500, items => 5000, seed => s)   about 1M ratings
#   count(*) of demo_ratings(14500, 5000, 1)                       drawing alone
#   load_anime(anime.csv, rating_sample_35k.csv)                   Kaggle anime files
#   load_movielens(ml-latest-small)                                MovieLens
#
# The loaders' lines are skipped when the data sets are absent.  Prints one line
# per statement with its row counts and times, and the load average before and after.
# Env: PG_CONFIG, ANIMEREC_DATA (default ../shared/data beside the repository), RUNS.
set -eu
cd "$(dirname "$0")/../.."
DATA=${ANIMEREC_DATA:-$(cd .. && pwd)/shared/data}
RUNS=${RUNS:-3}
. scripts/lib.sh
build_install
start_cluster
PSQL="psql -X -q -v ON_ERROR_STOP=1"
export PGOPTIONS="-c client_min_messages=warning"
$PSQL -c "CREATE EXTENSION animerec"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# time SQL (with :s the run's schema) RUNS times; print LABEL, rows of the last run, times
timed() {
	local label=$1 sql=$2 r times="" out
	for r in $(seq 1 "$RUNS"); do
		$PSQL -c "CREATE SCHEMA s$r"
		out=$($PSQL -At -v s="s$r" -v r="$r" <<SQL
\\timing on
$sql
SQL
)
		times="$times $(echo "$out" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1)"
		rows=$(echo "$out" | grep -v '^Time:' | tr '\n' ' ')
		$PSQL -c "DROP SCHEMA s$r CASCADE"
	done
	echo "$label: rows $rows; ms:$times"
}

timed "generate_demo_data(14500, 5000, seed = run)" \
	"SELECT * FROM animerec.generate_demo_data(users => 14500, items => 5000, seed => :r, schema => :'s');"
timed "count(*) FROM demo_ratings(14500, 5000, 1)" \
	"SELECT count(*) FROM animerec.demo_ratings(14500, 5000, 1);"
if [ -f "$DATA/anime/anime.csv" ] && [ -f "$DATA/anime/rating_sample_35k.csv" ]; then
	timed "load_anime(anime.csv, rating_sample_35k.csv)" \
		"SELECT * FROM animerec.load_anime('$DATA/anime/anime.csv', '$DATA/anime/rating_sample_35k.csv', :'s');"
else
	echo "load_anime: skipped (no $DATA/anime)"
fi
if [ -f "$DATA/ml-latest-small/ratings.csv" ]; then
	timed "load_movielens(ml-latest-small)" \
		"SELECT * FROM animerec.load_movielens('$DATA/ml-latest-small', :'s');"
else
	echo "load_movielens: skipped (no $DATA/ml-latest-small)"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
