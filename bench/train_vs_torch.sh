#!/usr/bin/env bash
# bench/train_vs_torch.sh — bench/bin/nn_train against the PyTorch reference of
# the same shapes (bench/torch_lstm_ref.py), both on 1 thread, in one run:
# nn_train, PyTorch, nn_train again (the machine may be shared: the two
# nn_train figures bracket PyTorch's), then the ratio of their mean to PyTorch.
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
		grep -E '^(cpu|sgemm_1thread|positions_per_s|gemm_gflops)' | tr '\n' ' '
	echo
}
a=$(run_nn)
t=$(/usr/bin/python3 bench/torch_lstm_ref.py $shape --steps "$((steps / 2))" --threads 1 | tr '\n' ' ')
b=$(run_nn)
echo "nn_train:  $a"
echo "PyTorch:   $t"
echo "nn_train:  $b"
pa=$(sed -n 's/.*positions_per_s=\([0-9]*\).*/\1/p' <<<"$a")
pb=$(sed -n 's/.*positions_per_s=\([0-9]*\).*/\1/p' <<<"$b")
pt=$(sed -n 's/.*positions_per_s=\([0-9]*\).*/\1/p' <<<"$t")
echo "nn_train / PyTorch = $(echo "scale=2; ($pa + $pb) / 2 / $pt" | bc) (goal >= 4); load at the end:$(uptime | sed 's/.*average://')"
