/*
 * topk.c — selection of the best k items from a score vector with a
 * bounded min-heap (no full sort), and the rank of one item.
 */
#include "nn_internal.h"

/* NaN ranks below every number */
static inline float
key(float s)
{
	return isnan(s) ? -INFINITY : s;
}

/* true when item a (score sa) ranks before item b (score sb): higher score, then smaller index */
static inline bool
before(float sa, int32_t a, float sb, int32_t b)
{
	return sa > sb || (sa == sb && a < b);
}

/* exchange heap slots i and j */
static inline void
swap_slots(int32_t *idx, float *sc, int32_t i, int32_t j)
{
	int32_t		ti = idx[i];
	float		ts = sc[i];

	idx[i] = idx[j];
	sc[i] = sc[j];
	idx[j] = ti;
	sc[j] = ts;
}

/* restore the heap below slot i: the root is the worst of the kept items */
static void
sift_down(int32_t *idx, float *sc, int32_t n, int32_t i)
{
	for (;;)
	{
		int32_t		l = 2 * i + 1,
					r = l + 1,
					w = i;

		if (l < n && before(sc[w], idx[w], sc[l], idx[l]))
			w = l;
		if (r < n && before(sc[w], idx[w], sc[r], idx[r]))
			w = r;
		if (w == i)
			return;
		swap_slots(idx, sc, i, w);
		i = w;
	}
}

/* move the new last slot up to its place */
static void
sift_up(int32_t *idx, float *sc, int32_t i)
{
	while (i > 0)
	{
		int32_t		p = (i - 1) / 2;

		if (!before(sc[p], idx[p], sc[i], idx[i]))
			return;
		swap_slots(idx, sc, i, p);
		i = p;
	}
}

/* the largest key of s[0..7] (NaN: -inf) */
static inline float
max_key8(const float *s)
{
	float		m = key(s[0]);

	for (int l = 1; l < 8; l++)
		m = key(s[l]) > m ? key(s[l]) : m;
	return m;
}

/*
 * Top k of scores[1..n] skipping j with exclude[j] != 0 (exclude may be NULL),
 * in descending score order (ties: smaller index first; NaN last) without a
 * full sort: a min-heap of the k best seen so far, then heap-sorted.  Once
 * the heap is full, a run of 8 scores none above its worst is skipped whole
 * (a later item ties with the worst only to rank after it).
 * Writes up to k indices and scores into idx_out, score_out (k); returns how many.
 */
int32_t
nn_topk(const float *scores, int32_t n, int32_t k, const uint8_t *exclude,
		int32_t *idx_out, float *score_out)
{
	int32_t		size = 0,
				j,
				last;

	if (k <= 0)
		return 0;
	for (j = 1; j <= n; j++)
	{
		float		s;

		if (size == k && (j - 1) % 8 == 0 && j + 7 <= n && !(max_key8(scores + j) > score_out[0]))
		{
			j += 7;
			continue;
		}
		if (exclude && exclude[j])
			continue;
		s = key(scores[j]);
		if (size < k)
		{
			idx_out[size] = j;
			score_out[size] = s;
			sift_up(idx_out, score_out, size);
			size++;
		}
		else if (before(s, j, score_out[0], idx_out[0]))
		{
			idx_out[0] = j;
			score_out[0] = s;
			sift_down(idx_out, score_out, size, 0);
		}
	}
	/* heap sort: the worst goes to the end each round */
	for (last = size - 1; last > 0; last--)
	{
		swap_slots(idx_out, score_out, 0, last);
		sift_down(idx_out, score_out, last, 0);
	}
	for (j = 0; j < size; j++)
		score_out[j] = scores[idx_out[j]];
	return size;
}

/*
 * 0-based rank of target among scores[1..n] not excluded (the number of
 * non-excluded items scoring higher; ties count against the target).
 */
int32_t
nn_rank(const float *scores, int32_t n, int32_t target, const uint8_t *exclude)
{
	float		st = key(scores[target]);
	int32_t		j,
				r = 0;

	for (j = 1; j <= n; j++)
		if (j != target && !(exclude && exclude[j]) && key(scores[j]) >= st)
			r++;
	return r;
}

/*
 * sum of exp(s[j] - mx) over j = 0..n-1 (NaN counts as -inf), with eight
 * partial sums: the loop vectorises without reassociating one sum.
 */
NN_SIMD_CLONES static float
sum_exp_shifted(const float *s, int32_t n, float mx)
{
	float		part[8] = {0};
	float		sum;
	int32_t		j;

	for (j = 0; j + 8 <= n; j += 8)
		for (int l = 0; l < 8; l++)
			part[l] += nn_expf(key(s[j + l]) - mx);
	sum = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
	for (; j < n; j++)
		sum += nn_expf(key(s[j]) - mx);
	return sum;
}

/* the largest key of s[0..n-1] (NaN: -inf), with eight partial maxima that vectorise */
NN_SIMD_CLONES static float
max_key(const float *s, int32_t n)
{
	float		part[8];
	float		mx = -INFINITY;
	int32_t		j;

	for (int l = 0; l < 8; l++)
		part[l] = -INFINITY;
	for (j = 0; j + 8 <= n; j += 8)
		for (int l = 0; l < 8; l++)
			part[l] = key(s[j + l]) > part[l] ? key(s[j + l]) : part[l];
	for (int l = 0; l < 8; l++)
		mx = part[l] > mx ? part[l] : mx;
	for (; j < n; j++)
		mx = key(s[j]) > mx ? key(s[j]) : mx;
	return mx;
}

/*
 * log of the sum of exp(scores[j]) over j = 1..n, with the maximum taken out
 * first so that nothing overflows (NaN scores count as -inf; -inf when n = 0).
 * With it, exp(scores[j] - lse) is item j's probability under the softmax
 * over the whole catalogue.
 */
float
nn_logsumexp(const float *scores, int32_t n)
{
	float		mx = max_key(scores + 1, n);

	if (mx == -INFINITY)
		return -INFINITY;
	return mx + logf(sum_exp_shifted(scores + 1, n, mx));
}
