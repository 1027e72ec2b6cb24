#!/usr/bin/env bash
# bench/train_vs_torch.sh — bench/bin/nn_train against the PyTorch reference of
# the same shapes (bench/torch_lstm_ref.py), both on 1 thread, in one run:
# nn_train, PyTorch, nn_train again (the machine may be shared: the two
# nn_train figures bracket PyTorch's), then the ratio of their mean to PyTorch,
# per second of wall time and per second of the process's CPU time (the one
# to trust when the load changed during the run).
# DESIGN's default model on ml-latest-small shapes, full softmax.
#
#   bench/train_vs_torch.sh [STEPS (20)]
# Needs /usr/bin/python3 with python3-torch (Debian).
set -eu
cd "$(dirname "$0")/.."
steps=${1:-20}
make -s bench/bin/nn_train >/dev/null
shape="--items 9724 --tags 19 --dim 64 --hidden 128 --layers 2 --maxlen 50 --batch 128"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), load at start:$(uptime | sed 's/.*average://')"
run_nn() {
	bench/bin/nn_train $shape --threads 1 --loss full --steps "$steps" |
		grep -E '^(cpu|sgemm_1thread|positions_per|gemm_gflops)' | tr '\n' ' '
	echo
}
a=$(run_nn)
# Debian's torch runs its products in OpenBLAS, whose threads torch.set_num_threads
# does not limit: without these PyTorch used more than one CPU
t=$(OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 /usr/bin/python3 bench/torch_lstm_ref.py $shape --steps "$((steps / 2))" --threads 1 | tr '\n' ' ')
b=$(run_nn)
echo "nn_train:  $a"
echo "PyTorch:   $t"
echo "nn_train:  $b"
# ratio of the mean of nn_train's two figures of $1 to PyTorch's
ratio() {
	local pa pb pt
	pa=$(sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$a")
	pb=$(sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$b")
	pt=$(sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$t")
	echo "scale=2; ($pa + $pb) / 2 / $pt" | bc
}
echo "nn_train / PyTorch: $(ratio positions_per_s) per wall second, $(ratio positions_per_cpu_s) per CPU second (goal >= 4)"
echo "load at the end:$(uptime | sed 's/.*average://')"
