/*
 * test_resume.c — exact resume of the trainer (src/nn/resume.c): a run
 * interrupted after k epochs, its state serialised and restored into a fresh
 * model and trainer, ends with the same bytes as the uninterrupted run (with
 * dropout, negative sampling, lazy Adam and a caller-kept moving average in
 * play); restoring less than the whole state does not; damaged, truncated or
 * foreign state blobs are refused without changing the trainer; and the
 * weight blobs committed by 0.2.0 (the fuzz seed corpus) still load.
 */
#include "nn/blas.h"
#include <stdio.h>

#include "tap.h"
#include "testlib.h"

#define EPOCHS		4
#define BATCHES		5
#define ROWS		8
#define STEPS		6

/* what a resumed trainer gets back from the interrupted one */
enum restore
{
	RESTORE_ALL,				/* the whole state blob */
	RESTORE_PARAMS,				/* the parameters only, as 0.2.0's resume did */
	RESTORE_NO_RNG				/* the blob, then a reseeded generator */
};

/* a training run: model, trainer and the moving average the caller keeps */
typedef struct run
{
	nn_config	cfg;
	nn_train_config tc;
	float		pop[41];
	nn_model	m;
	nn_trainer *tr;
	float	   *avg;			/* (n_params) */
	int64_t		avg_steps;
} run;

/* start a run of loss kind loss with parameters initialised from init_seed */
static void
run_start(run *r, int32_t loss, uint64_t init_seed)
{
	int32_t		j;

	memset(r, 0, sizeof(*r));
	r->cfg = small_config(40, 5, 3, 4, 8, 12, 2, STEPS);
	for (j = 0; j <= 40; j++)
		r->pop[j] = (float) (j % 7);
	nn_model_create(&r->m, &r->cfg, NULL, NULL, NULL, init_seed, &nn_malloc_allocator, NULL);
	r->tc.batch_size = ROWS;
	r->tc.learning_rate = 1e-2f;
	r->tc.clip = 1.0f;
	r->tc.dropout = 0.3f;
	r->tc.loss = loss;
	r->tc.n_negatives = 7;
	r->tc.negatives_by_popularity = true;
	r->tc.item_popularity = r->pop;
	r->tc.lazy_adam = loss == NN_LOSS_SAMPLED;
	r->tc.seed = 5;
	r->tr = nn_trainer_create(&r->m, &r->tc, &nn_malloc_allocator, NULL);
	r->avg = malloc(sizeof(float) * r->m.n_params);
	memcpy(r->avg, r->m.params, sizeof(float) * r->m.n_params);
}

/* free everything of the run */
static void
run_free(run *r)
{
	nn_trainer_free(r->tr);
	nn_model_free(&r->m);
	free(r->avg);
}

/*
 * Epochs from..to (1-based): each visits BATCHES batches in an order drawn
 * from the epoch number (as train() seeds each epoch's order), and moves the
 * average toward the weights after every step.
 */
static void
run_epochs(run *r, int from, int to)
{
	double		loss = 0.0;
	int64_t		npos = 0;
	int			e,
				k;
	size_t		i;

	for (e = from; e <= to; e++)
	{
		nn_rng		order;
		int32_t		perm[BATCHES];

		nn_rng_seed(&order, 1000 + (uint64_t) e);
		for (k = 0; k < BATCHES; k++)
			perm[k] = k;
		for (k = BATCHES - 1; k > 0; k--)
		{
			int32_t		j = (int32_t) nn_rng_below(&order, (uint32_t) k + 1),
						tmp = perm[k];

			perm[k] = perm[j];
			perm[j] = tmp;
		}
		for (k = 0; k < BATCHES; k++)
		{
			test_batch	tb;

			make_batch(&tb, &r->cfg, ROWS, STEPS, 200 + (uint64_t) perm[k]);
			nn_trainer_step(r->tr, &tb.b, &loss, &npos, NULL);
			free_batch(&tb);
			for (i = 0; i < r->m.n_params; i++)
				r->avg[i] += 0.1f * (r->m.params[i] - r->avg[i]);
			r->avg_steps++;
		}
	}
}

/* r's state as a fresh malloc'd blob; *len gets its size */
static unsigned char *
state_blob(const run *r, size_t *len)
{
	unsigned char *blob;

	*len = nn_resume_size(r->tr, true);
	blob = malloc(*len);
	if (nn_resume_write(r->tr, r->avg, r->avg_steps, blob, *len, NULL) != NN_OK)
	{
		free(blob);
		return NULL;
	}
	return blob;
}

/*
 * Train EPOCHS epochs, interrupted after k: the first run's state goes to a
 * fresh run (other initial weights) as restore says, which trains the rest.
 * Returns whether its weights and average equal those of an uninterrupted
 * run byte for byte.
 */
static int
interrupted_equals_whole(int32_t loss, int k, enum restore restore)
{
	run			whole,
				first,
				second;
	unsigned char *blob;
	size_t		len;
	bool		has_avg = false;
	int			same;

	run_start(&whole, loss, 1);
	run_epochs(&whole, 1, EPOCHS);

	run_start(&first, loss, 1);
	run_epochs(&first, 1, k);
	blob = state_blob(&first, &len);
	run_free(&first);

	run_start(&second, loss, 99);
	if (restore == RESTORE_PARAMS)
	{
		/* the parameters and the average without the optimiser's state */
		memcpy(second.m.params, blob + 128, sizeof(float) * second.m.n_params);
		memcpy(second.avg, blob + 128 + 3 * sizeof(float) * second.m.n_params,
			   sizeof(float) * second.m.n_params);
		second.avg_steps = whole.avg_steps * k / EPOCHS;
	}
	else
	{
		nn_resume_read(second.tr, blob, len, second.avg, &second.avg_steps, &has_avg, NULL);
		if (restore == RESTORE_NO_RNG)
		{
			nn_trainer_state_parts parts;

			nn_trainer_parts(second.tr, &parts);
			nn_rng_seed(parts.rng, second.tc.seed);
		}
	}
	run_epochs(&second, k + 1, EPOCHS);
	same = memcmp(whole.m.params, second.m.params, sizeof(float) * whole.m.n_params) == 0 &&
		memcmp(whole.avg, second.avg, sizeof(float) * whole.m.n_params) == 0 &&
		whole.avg_steps == second.avg_steps;
	free(blob);
	run_free(&whole);
	run_free(&second);
	return same;
}

/* resuming after every k gives the uninterrupted bytes; partial restores do not */
static void
test_exact(const char *label, int32_t loss)
{
	int			k;

	for (k = 1; k < EPOCHS; k++)
		tap_ok(interrupted_equals_whole(loss, k, RESTORE_ALL),
			   "%s: stopped after epoch %d and resumed in a fresh trainer: the same weights and average bit for bit",
			   label, k);
	tap_ok(!interrupted_equals_whole(loss, 2, RESTORE_PARAMS),
		   "%s: restoring the weights alone (Adam restarted) gives other weights", label);
	tap_ok(!interrupted_equals_whole(loss, 2, RESTORE_NO_RNG),
		   "%s: restoring all but the dropout/negatives generator gives other weights", label);
}

/* true when t's parameters, moments and step equal those saved in snap */
static int
unchanged(nn_trainer *t, const unsigned char *snap, size_t len)
{
	unsigned char *now = malloc(len);
	int			same = nn_resume_write(t, NULL, 0, now, len, NULL) == NN_OK &&
		memcmp(now, snap, len) == 0;

	free(now);
	return same;
}

/* refusals: truncations, a flipped byte, another version, another model */
static void
test_refusals(void)
{
	run			a,
				b;
	unsigned char *blob,
			   *snap;
	size_t		len,
				snap_len,
				cut;
	nn_error	err;
	bool		has_avg;
	int64_t		steps;
	int			all_cut = 1;
	int			rc;
	nn_config	other;
	nn_model	om;
	nn_trainer *ot;

	run_start(&a, NN_LOSS_FULL, 1);
	run_epochs(&a, 1, 1);
	blob = state_blob(&a, &len);
	tap_ok(blob != NULL && len == 128 + 4 * 4 * a.m.n_params + 4,
		   "the state blob holds the header, four arrays and the checksum (%zu bytes)", len);
	run_start(&b, NN_LOSS_FULL, 2);
	snap_len = nn_resume_size(b.tr, false);
	snap = malloc(snap_len);
	nn_resume_write(b.tr, NULL, 0, snap, snap_len, NULL);

	for (cut = 0; cut < len; cut++)
		if (nn_resume_read(b.tr, blob, cut, b.avg, &steps, &has_avg, &err) != NN_ECORRUPT)
			all_cut = 0;
	tap_ok(all_cut && unchanged(b.tr, snap, snap_len),
		   "every truncation is refused as corrupt and changes nothing");
	blob[len / 2] ^= 0x10;
	tap_ok(nn_resume_read(b.tr, blob, len, b.avg, &steps, &has_avg, &err) == NN_ECORRUPT &&
		   strstr(err.msg, "checksum") != NULL && unchanged(b.tr, snap, snap_len),
		   "a flipped byte fails the checksum (%s)", err.msg);
	blob[len / 2] ^= 0x10;
	blob[8] = 2;
	tap_ok(nn_resume_read(b.tr, blob, len, b.avg, &steps, &has_avg, &err) == NN_EVERSION,
		   "an unknown version is refused (%s)", err.msg);
	blob[8] = 1;

	other = a.cfg;
	other.hidden = 13;
	nn_model_create(&om, &other, NULL, NULL, NULL, 1, &nn_malloc_allocator, NULL);
	ot = nn_trainer_create(&om, &a.tc, &nn_malloc_allocator, NULL);
	tap_ok(nn_resume_read(ot, blob, len, NULL, &steps, &has_avg, &err) == NN_EINVAL,
		   "a state of another configuration is refused (%s)", err.msg);
	nn_trainer_free(ot);
	nn_model_free(&om);

	rc = nn_resume_read(b.tr, blob, len, NULL, &steps, &has_avg, &err);
	tap_ok(rc == NN_OK && has_avg && steps == BATCHES && memcmp(b.m.params, a.m.params, sizeof(float) * a.m.n_params) == 0,
		   "the intact blob restores (average skipped when not wanted, its %lld steps reported)",
		   (long long) steps);
	free(blob);
	free(snap);
	run_free(&a);
	run_free(&b);
}

/*
 * The weight blobs of the fuzz seed corpus were written by animerec 0.2.0:
 * they still load, and rewriting the view gives the same bytes (the weight
 * format did not change with the training state).
 */
static void
test_old_blobs(void)
{
	const char *names[] = {"blob-small", "blob-full", "blob-tiny", "blob-wide"};
	int			n;

	for (n = 0; n < 4; n++)
	{
		char		path[256];
		FILE	   *f;
		long		len;
		void	   *blob = NULL,
				   *again = NULL;
		nn_model	m;
		nn_error	err = {0, ""};
		int			ok = 0;

		snprintf(path, sizeof(path), "../fuzz/corpus/weights/%s", names[n]);
		f = fopen(path, "rb");
		if (f && fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
			posix_memalign(&blob, 64, (size_t) len) == 0 &&
			fread(blob, 1, (size_t) len, f) == (size_t) len &&
			nn_weights_view(blob, (size_t) len, &m, &err) == NN_OK &&
			posix_memalign(&again, 64, (size_t) len) == 0 &&
			nn_weights_write(&m, again, (size_t) len, &err) == NN_OK)
			ok = memcmp(blob, again, (size_t) len) == 0;
		tap_ok(ok, "0.2.0 weight blob %s loads and rewrites byte for byte %s", names[n], err.msg);
		if (f)
			fclose(f);
		free(blob);
		free(again);
	}
}

/* one BLAS thread, as the determinism contract says */
int
main(void)
{
	nn_blas_set_threads(1);
	test_exact("full softmax", NN_LOSS_FULL);
	test_exact("sampled softmax, lazy Adam", NN_LOSS_SAMPLED);
	test_refusals();
	test_old_blobs();
	return tap_done();
}
