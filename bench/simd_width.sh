#!/usr/bin/env bash
# bench/simd_width.sh — what animerec's own AVX-512 code adds on this CPU: the
# benchmark programs built as the extension is (the x86-64-v4 clones of the
# LSTM cell, softmax and top-k loops, and 16-float tiles in nn_gemm_packed)
# against the same programs built with -DNN_SIMD_NO_V4 (x86-64-v3 clones and
# 8-float tiles at most), alternated ROUNDS times in one run, 1 thread each:
#   batch    bench/bin/nn_recommend --item-gates 1 (blocks of 256 users, as recommend_all)
#   single   bench/bin/nn_recommend --block 1 --blocks 3000 (one history a call, as recommend)
#   train    bench/bin/nn_train, DESIGN's shapes, full softmax, 20 steps
# OpenBLAS's kernel is the same on both sides (chosen from the CPU's features).
# On a CPU without AVX-512 both sides run the same code: it says so and stops.
#
#   bench/simd_width.sh [ROUNDS (3)]
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-3}
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), family $(lscpu | sed -n 's/^CPU family: *//p') model $(lscpu | sed -n 's/^Model: *//p')"
if ! grep -qw avx512f /proc/cpuinfo; then
	echo "skipped: this CPU has no AVX-512, so both builds would run the x86-64-v3 code"
	exit 0
fi
dir=$(mktemp -d /tmp/animerec-simd.XXXXXX)
progs="bench/bin/nn_recommend bench/bin/nn_train"
trap 'rm -rf "$dir"; make -s -B $progs >/dev/null' EXIT
mkdir "$dir/v3" "$dir/v4"
make -s -B $progs NN_BENCH_CFLAGS=-DNN_SIMD_NO_V4 >/dev/null
cp $progs "$dir/v3/"
make -s -B $progs >/dev/null
cp $progs "$dir/v4/"
shape="--items 9724 --tags 19 --dim 64 --hidden 128 --layers 2 --maxlen 50 --batch 128"
for r in $(seq "$rounds"); do
	for side in v4 v3; do
		b=$("$dir/$side/nn_recommend" --threads 1 --item-gates 1 | grep -oE 'users_per_s_(best|median)=[0-9]+' | tr '\n' ' ')
		s=$("$dir/$side/nn_recommend" --threads 1 --block 1 --blocks 3000 | grep -oE 'users_per_s_(best|median)=[0-9]+' | tr '\n' ' ')
		t=$("$dir/$side/nn_train" $shape --threads 1 --loss full --steps 20 | grep -oE '^positions_per_s=[0-9]+')
		echo "round $r $side: batch $b| single $s| train $t"
	done
done
