#!/usr/bin/python3
"""bench/torch_lstm_ref.py — PyTorch reference for bench/bin/nn_train: the same
model and shapes trained the same way, to compare positions per second.

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
    /usr/bin/python3 bench/torch_lstm_ref.py [--items 9724] [--tags 19] [--dim 64]
        [--hidden 128] [--layers 2] [--maxlen 50] [--batch 128] [--steps 10] [--threads 1]

Model (DESIGN.md section 3, as src/nn builds it): x_t = [E_item[i_t]; mean of the
item's tag embeddings; rating r_t] (2D+1 wide), a stacked LSTM (dropout 0.2
between layers), u_t = P h_t (no bias), scores s_j = u_t . (E_item[j] + mean tag
embedding of j) + b_j over all items (full softmax), cross-entropy on the next
item at every step; Adam (lr 1e-3) with gradient norm clipping at 5.  Random
items, ratings and 1-4 tags per item, every window full (T predicted positions
per row).  A cross-check of the speed only: the weights and data are not
nn_train's.  Prints torch_threads, torch_version, positions_per_s and
positions_per_cpu_s (per second of the process's CPU time: comparable across
loads on a shared machine) over the timed steps, after 2 warm-up steps.
Debian's torch computes its products in OpenBLAS, whose threads
torch.set_num_threads does not limit: set OPENBLAS_NUM_THREADS as above (the
CPU rate above the wall-clock rate shows more than one thread at work).
"""
import argparse
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    for name, default in (("items", 9724), ("tags", 19), ("dim", 64), ("hidden", 128),
                          ("layers", 2), ("maxlen", 50), ("batch", 128), ("steps", 10),
                          ("threads", 1)):
        ap.add_argument("--" + name, type=int, default=default)
    o = ap.parse_args()
    torch.set_num_threads(o.threads)
    torch.manual_seed(1)
    N, G, D, H, T, B = o.items, o.tags, o.dim, o.hidden, o.maxlen, o.batch

    # item -> tags as a row-normalised (N+1, G) matrix: A @ E_tag is the tag mean
    A = torch.zeros(N + 1, G)
    for j in range(1, N + 1):
        k = int(torch.randint(1, 5, (1,)))
        A[j, torch.randperm(G)[:k]] = 1.0 / k

    item_emb = torch.nn.Parameter(torch.randn(N + 1, D) * 0.05)
    tag_emb = torch.nn.Parameter(torch.randn(G, D) * 0.05)
    lstm = torch.nn.LSTM(2 * D + 1, H, num_layers=o.layers, dropout=0.2, batch_first=True)
    proj = torch.nn.Linear(H, D, bias=False)
    out_bias = torch.nn.Parameter(torch.zeros(N + 1))
    params = [item_emb, tag_emb, out_bias] + list(lstm.parameters()) + list(proj.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)

    def step(items, ratings):
        tagged = item_emb + A @ tag_emb                       # (N+1, D)
        x = torch.cat([item_emb[items[:, :-1]], (A @ tag_emb)[items[:, :-1]],
                       ratings[:, :-1, None]], dim=2)          # (B, T, 2D+1)
        h, _ = lstm(x)                                        # (B, T, H)
        u = proj(h).reshape(B * T, D)
        scores = u @ tagged.t() + out_bias                    # (B*T, N+1)
        loss = torch.nn.functional.cross_entropy(scores, items[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        return loss.item()

    secs = cpu_secs = 0.0
    for s in range(2 + o.steps):
        items = torch.randint(1, N + 1, (B, T + 1))
        ratings = torch.rand(B, T + 1)
        t0, c0 = time.perf_counter(), time.process_time()
        step(items, ratings)
        if s >= 2:
            secs += time.perf_counter() - t0
            cpu_secs += time.process_time() - c0
    print(f"torch_version={torch.__version__} torch_threads={torch.get_num_threads()}")
    print(f"positions_per_s={o.steps * B * T / secs:.0f} "
          f"positions_per_cpu_s={o.steps * B * T / cpu_secs:.0f}")


if __name__ == "__main__":
    main()
