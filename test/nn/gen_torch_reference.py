#!/usr/bin/python3
"""Write test/nn/torch_reference.txt: a small animerec model evaluated by PyTorch.

The model of docs/design.md#the-model, built from torch.nn.LSTM (2 layers) with fixed
random weights, in float64.  The file holds the configuration, the item->tag
lists, every parameter in nn.h's order, one batch of left-padded windows with
user context, and PyTorch's results: each row's user embedding u = P h_T, the
scores of row 0, the summed full-softmax cross-entropy over all predicted
positions and the gradient of the mean loss (autograd).  test_torch_parity.c
reads it; running the test needs no torch.

Run: /usr/bin/python3 test/nn/gen_torch_reference.py > test/nn/torch_reference.txt
"""
import torch

torch.manual_seed(20240611)
torch.set_default_dtype(torch.float64)

N, G, UG, U, D, H, L, T = 7, 4, 3, 2, 4, 5, 2, 5
RMIN, RMAX = 1.0, 10.0
IN0 = 2 * D + 1 + D + D

item_tags = [[], [1, 2], [3], [], [2, 3, 4], [1], [4], [1, 3]]   # item 0 = padding
items = [[3, 1, 5, 7, 2, 6],
         [0, 0, 4, 2, 2, 1],
         [0, 0, 0, 0, 6, 3]]
raw_ratings = [[7, 3, 10, 1, 8, 5],
               [0, 0, 9, 6, 2, 4],
               [0, 0, 0, 0, 5, 9]]
users = [1, 2, 0]
user_tags = [[1, 3], [], [2]]
B = len(items)


def scale(r):
    return max(-1.0, min(1.0, 2.0 * (r - RMIN) / (RMAX - RMIN) - 1.0))


ratings = [[scale(r) if it else 0.0 for r, it in zip(row, irow)]
           for row, irow in zip(raw_ratings, items)]


def emb(rows):
    e = torch.randn(rows + 1, D) * 0.5
    e[0] = 0
    return e.requires_grad_()


item_emb, tag_emb, utag_emb, user_emb = emb(N), emb(G), emb(UG), emb(U)
lstm = torch.nn.LSTM(IN0, H, num_layers=L, batch_first=True)
with torch.no_grad():
    for p in lstm.parameters():
        p.uniform_(-0.6, 0.6)
proj = (torch.rand(D, H) - 0.5).requires_grad_()
item_bias = (torch.rand(N + 1) - 0.5)
item_bias[0] = 0
item_bias.requires_grad_()


def tag_mean(table, tags):
    if not tags:
        return torch.zeros(D)
    return table[tags].mean(0)


def item_out():
    return torch.stack([torch.zeros(D)] + [item_emb[j] + tag_mean(tag_emb, item_tags[j])
                                           for j in range(1, N + 1)])


def row_embeddings(b):
    """top-layer hidden states (steps, H) of row b over its real inputs 0..T-1"""
    ctx = torch.cat([tag_mean(utag_emb, user_tags[b]),
                     user_emb[users[b]] if users[b] else torch.zeros(D)])
    steps = [t for t in range(T) if items[b][t]]
    xs = [torch.cat([item_emb[items[b][t]], tag_mean(tag_emb, item_tags[items[b][t]]),
                     torch.tensor([ratings[b][t]]), ctx]) for t in steps]
    hs, _ = lstm(torch.stack(xs).unsqueeze(0))
    return steps, hs[0]


out = item_out()
loss = torch.zeros(())
npos = 0
u_last = []
for b in range(B):
    steps, hs = row_embeddings(b)
    u = hs @ proj.T
    u_last.append(u[-1])
    for k, t in enumerate(steps):
        if items[b][t + 1]:
            logits = u[k] @ out[1:].T + item_bias[1:]
            loss = loss + torch.nn.functional.cross_entropy(
                logits.unsqueeze(0), torch.tensor([items[b][t + 1] - 1]), reduction='sum')
            npos += 1
(loss / npos).backward()

params = [item_emb, tag_emb, utag_emb, user_emb]
for l in range(L):
    params += [getattr(lstm, n + str(l)) for n in ('weight_ih_l', 'weight_hh_l', 'bias_ih_l', 'bias_hh_l')]
params += [proj, item_bias]


def flat(ts):
    return [v for t in ts for v in t.detach().reshape(-1).tolist()]


def emit(name, values, fmt='%.12g'):
    print(name, len(values), ' '.join(fmt % v for v in values))


def csr_ptr(lists):
    ptr = [0]
    for lst in lists:
        ptr.append(ptr[-1] + len(lst))
    return ptr


print('config', N, G, UG, U, D, H, L, T, RMIN, RMAX)
emit('item_tag_ptr', csr_ptr(item_tags), '%d')
emit('item_tag_idx', [g for tags in item_tags for g in tags], '%d')
emit('params', flat(params))
print('batch', B, T)
emit('items', [v for row in items for v in row], '%d')
emit('ratings', [v for row in ratings for v in row])
emit('users', users, '%d')
emit('utag_ptr', csr_ptr(user_tags), '%d')
emit('utag_idx', [g for tags in user_tags for g in tags], '%d')
emit('u_last', flat(u_last))
with torch.no_grad():
    emit('scores0', (u_last[0] @ out[1:].T + item_bias[1:]).tolist())
emit('loss', [loss.item()])
emit('npos', [npos], '%d')
emit('grad', flat([p.grad for p in params]))
