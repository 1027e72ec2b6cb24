#!/usr/bin/env bash
# bench/train_threads/run.sh — one epoch of scripts/demo's training with
# animerec.threads = 1 and = 2 (or THREADS), alternating ROUNDS times (default 3),
# on a throwaway cluster (scripts/lib.sh) with the demo data set
# (generate_demo_data(5000, 2000, 42), as scripts/demo makes it).  Prints each
# run's epoch time, positions/s and loss from train's NOTICE: the loss must be
# the same whatever the threads.
# Env: PG_CONFIG, ROUNDS, THREADS (default 2).
set -eu
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
. scripts/lib.sh
build_install
start_cluster
PSQL="psql -X -q -v ON_ERROR_STOP=1"
echo "machine: $(nproc) vCPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
$PSQL -c "CREATE EXTENSION animerec" -c "SELECT count(*) FROM animerec.generate_demo_data(5000, 2000, 42)" >/dev/null
for r in $(seq 1 "$ROUNDS"); do
	for t in 1 "$THREADS"; do
		$PSQL -c "SET animerec.threads = $t" -c "SET animerec.progress_notices = on" \
			-c "CALL animerec.train('t${r}_$t', 'demo_ratings', items => 'demo_items', epochs => 1, seed => 42)" 2>&1 |
			sed -n "s/^NOTICE:  epoch 1\/1: loss \([0-9.]*\),.* \([0-9.]*\) s, \([0-9]*\) positions\/s$/round $r, animerec.threads = $t: \2 s, \3 positions\/s, loss \1/p"
	done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
