#!/usr/bin/env bash
# bench/ab.sh — one benchmark run alternately on two commits, to compare them on
# a machine whose speed drifts (a shared VM: a figure taken an hour apart from
# another says little about the change between them).
#
#   bench/ab.sh A B ROUNDS COMMAND [ARGS...]
#   e.g. bench/ab.sh 7167447 HEAD 3 bench/bi/run.sh
#
# Checks A and B out into worktrees of their own, gives both this tree's
# bench/ (so that the benchmark is the same and only the extension and the
# numeric core differ; bench/bin is left out, so each side builds its own),
# and runs COMMAND in each, A B A B ..., ROUNDS times, with PG_CONFIG and the
# rest of the environment as given.  Every line of output is prefixed with the
# round and the side (A or B with its commit).  The worktrees go at exit.
set -eu
cd "$(dirname "$0")/.."
[ $# -ge 4 ] || { echo "usage: bench/ab.sh A B ROUNDS COMMAND [ARGS...]" >&2; exit 2; }
a=$(git rev-parse --short "$1")
b=$(git rev-parse --short "$2")
rounds=$3
shift 3
dir=$(mktemp -d /tmp/animerec-ab.XXXXXX)
cleanup() {
	git worktree remove --force "$dir/A" 2>/dev/null || true
	git worktree remove --force "$dir/B" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
git worktree add -q --detach "$dir/A" "$a"
git worktree add -q --detach "$dir/B" "$b"
for side in A B; do
	rm -rf "${dir:?}/$side/bench"
	cp -r bench "$dir/$side/bench"
	# the benchmark programs are built from each side's own numeric core (copied, they
	# would be this tree's, newer than the side's sources, and make would keep them)
	rm -rf "${dir:?}/$side/bench/bin"
done
echo "A = $a ($(git log -1 --format=%s "$a" | cut -c1-60)), B = $b ($(git log -1 --format=%s "$b" | cut -c1-60))"
for r in $(seq "$rounds"); do
	for side in A B; do
		(cd "$dir/$side" && "$@") 2>&1 | sed "s/^/round $r $side: /"
	done
done
