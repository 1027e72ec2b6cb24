#!/usr/bin/python3
"""bench/sasrec_ref.py -- PyTorch reference of SASRec trained with the
full-softmax cross-entropy (SASRec-CE), on the split and with the evaluation
protocol of animerec's train / evaluate(), as a cross-check of animerec's
quality (issue 15).  bench/quality runs it beside animerec and popularity.

    MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=17179869184 \
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 nice -n 19 \
    /usr/bin/python3 bench/sasrec_ref.py RATINGS_FILE --user COL --item COL --order COL
        [--name NAME] [--epochs 200] [--patience 10] [--seed 42] [--threads 1]
        [--max-seconds 0]

    anime caserec-5k: DERIVED_ratings_random_order.tsv --user user_id --item anime_id --order seq
    ml-latest-small:  ratings.csv --user userId --item movieId --order timestamp

The malloc thresholds keep glibc from mapping and unmapping the score
tensors at every step (half of an epoch's time in page faults without them).
RATINGS_FILE is read as CSV with a header line (tab-separated when its name
ends in .tsv); only the user, item and order columns are used (SASRec sees no
ratings and no tags).

Protocol (the same as src/train_data.c, src/evaluate.c, src/train_procedure.c):
- rows with an empty user or item id are skipped; ids are integers.
- each user's history is ordered by the order column, ties by item id
  (ratings_sql: ORDER BY user, order, item; integer order values, an empty
  one sorting last as NULL does in PostgreSQL).  Repeated items stay.
- the catalogue is every distinct item id of the file (also items seen only
  in a validation or test row), dense indices 1..N by ascending id.
- users with at least 5 rows hold out their last row (test) and the one
  before (validation); all other rows, and every row of users with fewer than
  5, are training rows (data_user_split).  Only users with 5 or more rows are
  evaluated, each counting once.
- training windows as data_windows: each user's training rows cut from the
  end into windows of at most T + 1 items, consecutive windows sharing one
  item; every position of a window predicts the next item (left-padded to T).
- ranking (eval_ranking): the input is the last T rows before the held-out
  item (for the test, the validation item included); the scores of all N
  items are ranked, the items of those earlier rows excluded unless the
  target is one of them; rank = number of other non-excluded items scoring
  >= the target (ties count against the target, nn_rank); HR@10 = mean of
  [rank < 10], NDCG@10 = mean of 1 / log2(rank + 2) for rank < 10.
- early stopping on validation NDCG@10 (strictly better = new best), the
  test metrics of the best epoch's weights.
- popularity (eval_popularity for evaluate()): an item's score is its count
  among the rows before each user's test row (all rows of users with fewer
  than 5), ranked the same way: printed to check that this script's split
  and ranking are animerec's (its figures must equal evaluate()'s).

Model (Kang & McAuley 2018, as SASRec.pytorch): item embeddings (D) times
sqrt(D) plus learned position embeddings, dropout, BLOCKS blocks of
pre-layer-norm causal self-attention (HEADS heads) and a position-wise
feed-forward layer (D -> D -> D, ReLU), residual connections, padding
positions zeroed after each block, a final layer norm; scores are dot
products with the same item embeddings; cross-entropy over all N items at
every non-padding position.  Adam (lr 1e-3, betas 0.9 / 0.98), batch 128
windows, D 64, 2 blocks, 1 head, dropout 0.2, T 50, weights Xavier-normal.

Prints the data's counts, one line per epoch (loss, validation HR/NDCG@10,
seconds) and, as its last line, "result:" followed by key=value pairs:
test_hr10, test_ndcg10, users, items, best_epoch, epochs, stopped (patience,
epochs or time), train_seconds (epochs and validations, like train's time),
pop_hr10, pop_ndcg10, seconds (the whole run), torch, threads.
"""
import argparse
import csv
import math
import time

import torch


def read_sequences(path, user_col, item_col, order_col):
    """Histories of the file: (list of item-index lists per user, ascending
    user id; N).  Ordered by the order column then item id; item indices 1..N
    by ascending id."""
    delim = "\t" if path.endswith(".tsv") else ","
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        rd = csv.DictReader(f, delimiter=delim)
        for r in rd:
            u, i, o = r[user_col].strip(), r[item_col].strip(), r[order_col].strip()
            if u == "" or i == "":
                continue
            # NULL order sorts after every value (PostgreSQL's ascending NULLS LAST)
            okey = (1, 0) if o == "" else (0, int(o))
            rows.append((int(u), okey, int(i)))
    rows.sort()
    ids = sorted({r[2] for r in rows})
    index = {iid: k + 1 for k, iid in enumerate(ids)}
    seqs = []
    last_user = None
    for u, _, i in rows:
        if u != last_user:
            seqs.append([])
            last_user = u
        seqs[-1].append(index[i])
    return seqs, len(ids)


def train_end(seq):
    """Number of training rows of a history (data_user_split)."""
    return len(seq) - 2 if len(seq) >= 5 else len(seq)


def windows(seqs, T):
    """Training windows (data_windows): lists of 2..T+1 consecutive items."""
    out = []
    for s in seqs:
        begin, end = 0, train_end(s)
        while end - begin >= 2:
            start = max(begin, end - (T + 1))
            out.append(s[start:end])
            if start == begin:
                break
            end = start + 1
    return out


def left_pad(rows, T):
    """(len(rows), T) long tensor of the last T items of each row, left-padded with 0."""
    x = torch.zeros(len(rows), T, dtype=torch.long)
    for b, r in enumerate(rows):
        r = r[-T:]
        if r:
            x[b, T - len(r):] = torch.tensor(r, dtype=torch.long)
    return x


class SASRec(torch.nn.Module):
    """SASRec over N items (index 0 = padding): forward maps (B, T) item
    indices to (B, T, D) hidden states; scores are h @ E[1:]^T."""

    def __init__(self, n_items, dim, blocks, heads, dropout, maxlen):
        super().__init__()
        self.dim = dim
        self.item = torch.nn.Embedding(n_items + 1, dim, padding_idx=0)
        self.pos = torch.nn.Embedding(maxlen, dim)
        self.drop = torch.nn.Dropout(dropout)
        self.attn_ln = torch.nn.ModuleList()
        self.attn = torch.nn.ModuleList()
        self.ffn_ln = torch.nn.ModuleList()
        self.ffn = torch.nn.ModuleList()
        for _ in range(blocks):
            self.attn_ln.append(torch.nn.LayerNorm(dim, eps=1e-8))
            self.attn.append(torch.nn.MultiheadAttention(dim, heads, dropout=dropout,
                                                         batch_first=True))
            self.ffn_ln.append(torch.nn.LayerNorm(dim, eps=1e-8))
            self.ffn.append(torch.nn.Sequential(
                torch.nn.Linear(dim, dim), torch.nn.ReLU(), torch.nn.Dropout(dropout),
                torch.nn.Linear(dim, dim), torch.nn.Dropout(dropout)))
        self.last_ln = torch.nn.LayerNorm(dim, eps=1e-8)
        for name, p in self.named_parameters():
            if p.dim() > 1:
                torch.nn.init.xavier_normal_(p)
        with torch.no_grad():
            self.item.weight[0].zero_()

    def forward(self, seq):
        B, T = seq.shape
        keep = (seq != 0).unsqueeze(-1).float()
        x = self.item(seq) * math.sqrt(self.dim) + self.pos.weight[:T].unsqueeze(0)
        x = self.drop(x) * keep
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        for ln1, attn, ln2, ffn in zip(self.attn_ln, self.attn, self.ffn_ln, self.ffn):
            q = ln1(x)
            a, _ = attn(q, x, x, attn_mask=causal, need_weights=False)
            x = ln2(q + a)
            x = (x + ffn(x)) * keep
        return self.last_ln(x)

    def scores(self, h):
        """(..., D) hidden states -> (..., N) scores of items 1..N."""
        return h @ self.item.weight[1:].t()


def rank_batch(scores, histories, targets):
    """0-based ranks (nn_rank) of targets (items 1..N) in scores (B, N), the
    items of histories (B lists) excluded unless they are the target."""
    s = torch.nan_to_num(scores.clone(), nan=-math.inf)
    ar = torch.arange(len(targets))
    t = torch.tensor(targets) - 1
    st = s[ar, t].clone()
    bi = [b for b, h in enumerate(histories) for _ in h]
    ii = [i - 1 for h in histories for i in h]
    if ii:
        s[torch.tensor(bi), torch.tensor(ii)] = -math.inf
    s[ar, t] = st
    return (s >= st.unsqueeze(1)).sum(1) - 1


def add_metrics(ranks, k, acc):
    """Add HR@k and NDCG@k sums of ranks to acc [hr, ndcg]."""
    for r in ranks.tolist():
        if r < k:
            acc[0] += 1.0
            acc[1] += 1.0 / math.log2(r + 2.0)


def evaluated(seqs, test):
    """(history, target) of every user with held-out rows: validation or test."""
    out = []
    for s in seqs:
        if len(s) < 5:
            continue
        end = train_end(s) + (1 if test else 0)
        out.append((s[:end], s[end]))
    return out


def evaluate(model, seqs, T, test, k=10, batch=256):
    """(users, HR@k, NDCG@k) of model on the validation or test items."""
    cases = evaluated(seqs, test)
    acc = [0.0, 0.0]
    model.eval()
    with torch.no_grad():
        for b0 in range(0, len(cases), batch):
            part = cases[b0:b0 + batch]
            h = model(left_pad([c[0] for c in part], T))[:, -1]
            add_metrics(rank_batch(model.scores(h), [c[0] for c in part],
                                   [c[1] for c in part]), k, acc)
    n = len(cases)
    return n, acc[0] / n, acc[1] / n


def popularity(seqs, n_items, k=10):
    """(HR@k, NDCG@k) of the popularity ranking on the test items (eval_popularity)."""
    pop = torch.zeros(n_items + 1)
    for s in seqs:
        for i in s[:train_end(s) + (1 if len(s) >= 5 else 0)]:
            pop[i] += 1
    cases = evaluated(seqs, True)
    acc = [0.0, 0.0]
    for b0 in range(0, len(cases), 256):
        part = cases[b0:b0 + 256]
        sc = pop[1:].unsqueeze(0).expand(len(part), n_items)
        add_metrics(rank_batch(sc, [c[0] for c in part], [c[1] for c in part]), k, acc)
    return acc[0] / len(cases), acc[1] / len(cases)


def train_epoch(model, opt, wins, T, batch, gen):
    """One pass over the windows in a random order; mean loss per position."""
    model.train()
    order = torch.randperm(len(wins), generator=gen).tolist()
    total, count = 0.0, 0
    for b0 in range(0, len(order), batch):
        part = [wins[j] for j in order[b0:b0 + batch]]
        inp = left_pad([w[:-1] for w in part], T)
        tgt = left_pad([w[1:] for w in part], T)
        mask = tgt != 0
        h = model(inp)[mask]
        loss = torch.nn.functional.cross_entropy(model.scores(h), tgt[mask] - 1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * int(mask.sum())
        count += int(mask.sum())
    return total / max(count, 1)


def main():
    ap = argparse.ArgumentParser(description="SASRec-CE reference on animerec's protocol")
    ap.add_argument("ratings")
    ap.add_argument("--user", required=True)
    ap.add_argument("--item", required=True)
    ap.add_argument("--order", required=True)
    ap.add_argument("--name", default="data")
    for name, default in (("dim", 64), ("blocks", 2), ("heads", 1), ("maxlen", 50),
                          ("batch", 128), ("epochs", 200), ("patience", 10), ("seed", 42),
                          ("threads", 1), ("max-seconds", 0)):
        ap.add_argument("--" + name, type=int, default=default)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--lr", type=float, default=1e-3)
    o = ap.parse_args()
    t_start = time.perf_counter()
    torch.set_num_threads(o.threads)
    torch.manual_seed(o.seed)
    gen = torch.Generator().manual_seed(o.seed)

    seqs, n_items = read_sequences(o.ratings, o.user, o.item, o.order)
    wins = windows(seqs, o.maxlen)
    t0 = time.perf_counter()
    pop_hr, pop_ndcg = popularity(seqs, n_items)
    pop_seconds = time.perf_counter() - t0
    print(f"{o.name}: {sum(map(len, seqs))} rows, {len(seqs)} users, {n_items} items, "
          f"{len(wins)} windows, {len(evaluated(seqs, True))} test users; popularity "
          f"test HR@10 {pop_hr:.4f} NDCG@10 {pop_ndcg:.4f} ({pop_seconds:.1f} s)", flush=True)

    model = SASRec(n_items, o.dim, o.blocks, o.heads, o.dropout, o.maxlen)
    opt = torch.optim.Adam(model.parameters(), lr=o.lr, betas=(0.9, 0.98))
    best, best_ndcg, best_epoch, since_best, stopped = None, -1.0, 0, 0, "epochs"
    t_train = time.perf_counter()
    epoch = 0
    for epoch in range(1, o.epochs + 1):
        te = time.perf_counter()
        loss = train_epoch(model, opt, wins, o.maxlen, o.batch, gen)
        _, val_hr, val_ndcg = evaluate(model, seqs, o.maxlen, test=False)
        better = val_ndcg > best_ndcg
        if better:
            best = {k: v.clone() for k, v in model.state_dict().items()}
            best_ndcg, best_epoch, since_best = val_ndcg, epoch, 0
        else:
            since_best += 1
        print(f"epoch {epoch} loss {loss:.4f} val_hr10 {val_hr:.4f} val_ndcg10 {val_ndcg:.4f} "
              f"seconds {time.perf_counter() - te:.1f}{' (best)' if better else ''}", flush=True)
        if since_best >= o.patience:
            stopped = "patience"
            break
        if o.max_seconds and time.perf_counter() - t_train >= o.max_seconds:
            stopped = "time"
            break
    train_seconds = time.perf_counter() - t_train
    model.load_state_dict(best)
    users, hr, ndcg = evaluate(model, seqs, o.maxlen, test=True)
    print(f"result: name={o.name} test_hr10={hr:.4f} test_ndcg10={ndcg:.4f} users={users} "
          f"items={n_items} best_epoch={best_epoch} epochs={epoch} stopped={stopped} "
          f"train_seconds={train_seconds:.1f} pop_hr10={pop_hr:.4f} pop_ndcg10={pop_ndcg:.4f} "
          f"seconds={time.perf_counter() - t_start:.1f} torch={torch.__version__} "
          f"threads={torch.get_num_threads()}")


if __name__ == "__main__":
    main()
