/*
 * nn_internal.h — helpers shared by the modules of the numeric core (src/nn/)
 * and its unit tests; not part of the public interface in nn.h.
 *
 * Activations are stored time-major: (T, B, width) means step t of batch row
 * b is the row t * B + b, so a step's rows are one contiguous (B, width) block.
 */
#ifndef ANIMEREC_NN_INTERNAL_H
#define ANIMEREC_NN_INTERNAL_H

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "nn.h"

/* ---- errors and memory (memory.c) ---- */

/* set err (may be NULL) to code and a formatted message; returns code */
int			nn_fail(nn_error *err, int code, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

/*
 * Bump allocator over one block: nn_arena_take hands out 64-byte aligned,
 * zeroed pieces; sizes are summed first with a NULL base (a dry run).
 */
typedef struct nn_arena
{
	char	   *base;			/* NULL during the dry run */
	size_t		used;
} nn_arena;

void	   *nn_arena_take(nn_arena *a, size_t bytes);

/* ---- little-endian scalars and the configuration on disk (format.c, export.c) ---- */

/* read a little-endian uint32 at p (any alignment) */
static inline uint32_t
nn_get_le32(const unsigned char *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 |
		(uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/* read a little-endian uint64 at p (any alignment) */
static inline uint64_t
nn_get_le64(const unsigned char *p)
{
	return (uint64_t) nn_get_le32(p) | (uint64_t) nn_get_le32(p + 4) << 32;
}

/* write v at p as a little-endian uint32 */
static inline void
nn_put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char) v;
	p[1] = (unsigned char) (v >> 8);
	p[2] = (unsigned char) (v >> 16);
	p[3] = (unsigned char) (v >> 24);
}

/* write v at p as a little-endian uint64 */
static inline void
nn_put_le64(unsigned char *p, uint64_t v)
{
	nn_put_le32(p, (uint32_t) v);
	nn_put_le32(p + 4, (uint32_t) (v >> 32));
}

/* bytes of an nn_config on disk: its ten 4-byte fields in order */
#define NN_CONFIG_BYTES 40

/* write c at p (NN_CONFIG_BYTES), little-endian */
void		nn_put_config(unsigned char *p, const nn_config *c);
/* read the NN_CONFIG_BYTES at p into c (unchecked) */
void		nn_get_config(const unsigned char *p, nn_config *c);
/* true when the host stores integers little-endian (the arrays' order) */
bool		nn_host_little_endian(void);
/* check the CRC32C stored at p + off_crc against the bytes before it (crc32c.c) */
int			nn_crc_check(const unsigned char *p, size_t off_crc, nn_error *err);

/* ---- random numbers (rng.c): xoshiro256** seeded by splitmix64 ---- */

typedef struct nn_rng
{
	uint64_t	s[4];
} nn_rng;

void		nn_rng_seed(nn_rng *r, uint64_t seed);
uint64_t	nn_rng_next(nn_rng *r);
/* uniform in [0, 1) with 24 random bits */
float		nn_rng_uniform(nn_rng *r);
/* uniform integer in [0, n), n > 0 */
uint32_t	nn_rng_below(nn_rng *r, uint32_t n);
/* standard normal (Box-Muller, one value per call) */
float		nn_rng_normal(nn_rng *r);

/* ---- elementwise math ---- */

/*
 * The elementwise hot loops are plain C that the compiler vectorises
 * (-O3 -fno-trapping-math lets it turn the clamps below into blends); the
 * functions holding them are compiled three times, for x86-64-v4 (AVX-512:
 * 16 floats a vector), x86-64-v3 (AVX2, FMA) and baseline x86-64, and the
 * loader picks one by the CPU's feature bits (GNU ifunc).  The explicit
 * 4-float accumulators (nn_v4f) fix the order of every sum whichever clone
 * runs.
 */
#if defined(__x86_64__) && defined(__GNUC__) && defined(NN_SIMD_NO_V4)
/* a benchmark's build without the AVX-512 code (bench/simd_width.sh) */
#define NN_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#elif defined(__x86_64__) && defined(__GNUC__)
#define NN_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NN_SIMD_CLONES
#endif

/*
 * exp(x) for x in about [-87, 88] (clamped outside; NaN for NaN), relative
 * error below 2e-7: range reduction x = n ln2 + r, |r| <= ln2/2, Cephes' degree-6
 * polynomial for e^r, and 2^n built in the exponent bits.
 */
static inline float
nn_expf(float x)
{
	const float shift = 12582912.0f;	/* 1.5 * 2^23: adding it rounds to an integer */
	float		n,
				r,
				p;
	union
	{
		int32_t		i;
		float		f;
	}			scale;

	x = x < -87.0f ? -87.0f : x;
	x = x > 88.0f ? 88.0f : x;
	n = (x * 1.44269504088896341f + shift) - shift;
	r = x - n * 0.693359375f;
	r = r - n * -2.12194440e-4f;
	p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	p = p * r * r + r + 1.0f;
	n = n == n ? n : 0.0f;		/* NaN (kept by p) must not reach the int conversion */
	scale.i = ((int32_t) n + 127) << 23;	/* 2^n */
	return p * scale.f;
}

/* logistic sigmoid */
static inline float
nn_sigmoidf(float x)
{
	return 1.0f / (1.0f + nn_expf(-x));
}

/* tanh(x) = 1 - 2 / (e^{2x} + 1) */
static inline float
nn_tanhf(float x)
{
	return 1.0f - 2.0f / (nn_expf(2.0f * x) + 1.0f);
}

/*
 * Four floats as one GCC/Clang vector, for the reductions (max, sum) that
 * the compiler may not vectorise itself without reassociating.
 */
typedef float nn_v4f __attribute__((vector_size(16)));
typedef int32_t nn_v4i __attribute__((vector_size(16)));

/* load 4 floats at any alignment */
static inline nn_v4f
nn_v4_load(const float *p)
{
	nn_v4f		v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* per lane maximum */
static inline nn_v4f
nn_v4_max(nn_v4f a, nn_v4f b)
{
	nn_v4i		m = a > b;

	return (nn_v4f) ((m & (nn_v4i) a) | (~m & (nn_v4i) b));
}

/* ---- threads for elementwise passes (parallel.c) ---- */

/* the work of rows [r0, r1), slice i (0 .. NN_MAX_SLICES - 1) of a parallel loop */
typedef void (*nn_rows_fn) (void *ctx, int32_t slice, int32_t r0, int32_t r1);

/*
 * Call fn(ctx, i, r0, r1) over slices covering [0, rows), one per OpenBLAS
 * thread (slices of at least min_rows), the first on the calling thread.
 */
void		nn_parallel_rows(int32_t rows, int32_t min_rows, nn_rows_fn fn, void *ctx);

/*
 * Call fn(ctx, i, r0, r1) over chunks of chunk rows covering [0, rows) on
 * threads threads, each thread i taking the next chunk when done with one
 * (OpenBLAS set to one thread by the caller while they run).
 */
void		nn_parallel_chunks(int32_t threads, int32_t rows, int32_t chunk,
							   nn_rows_fn fn, void *ctx);

/*
 * The chunks of one nn_parallel_chunks loop, for threads that join it as
 * they become free: nn_chunks_init sets it up, nn_chunks_run takes chunks
 * on threads of its own, nn_chunks_take on the calling thread (any number
 * at once, each thread with its own slice), nn_chunks_stop leaves the
 * chunks not taken yet.
 */
typedef struct nn_chunks
{
	nn_rows_fn	fn;
	void	   *ctx;
	int32_t		rows,
				chunk,
				first_slice;	/* nn_chunks_run's first thread's slice */
	atomic_int	next;			/* the next chunk's first row */
} nn_chunks;

void		nn_chunks_init(nn_chunks *c, int32_t rows, int32_t chunk, nn_rows_fn fn, void *ctx);
void		nn_chunks_take(nn_chunks *c, int32_t slice);
void		nn_chunks_run(nn_chunks *c, int32_t threads, int32_t first_slice);
void		nn_chunks_stop(nn_chunks *c);

/* ---- the batch inference's matrix product (gemm_packed.c) ---- */

/* columns of Z in one panel of packed weights */
#define NN_PANEL 16

/* floats of W (G, K) packed by nn_pack_cols (panels padded to an even count) */
size_t		nn_packed_floats(int32_t G, int32_t K);

/*
 * Pack W (G, K), row g = [w1 + g * ld1 (K1 floats) | w2 + g * ld2 (K - K1
 * floats)], into Wp (nn_packed_floats(G, K)): panels of NN_PANEL rows of W,
 * column by column, zero past row G and in the padding panel.
 */
void		nn_pack_cols(int32_t G, int32_t K, const float *w1, size_t ld1, int32_t K1,
						 const float *w2, size_t ld2, float *Wp);

/*
 * Z (n, G; rows ldz apart) = A (n, K; rows lda apart) W^T, or Z += A W^T
 * when accumulate, with W packed by nn_pack_cols into panels ldp floats
 * apart from Wp (K * NN_PANEL for a whole packed matrix; K consecutive
 * columns of a wider one start k0 * NN_PANEL floats in, with its stride),
 * in vectors of nn_gemm_width() floats (16 with AVX-512, else 8);
 * nn_gemm_packed_width uses the width given, whatever the CPU (for tests).
 */
void		nn_gemm_packed(int32_t n, int32_t G, int32_t K, const float *A, size_t lda,
						   const float *Wp, size_t ldp, float *Z, size_t ldz, bool accumulate);
int32_t		nn_gemm_width(void);
void		nn_gemm_packed_width(int32_t width, int32_t n, int32_t G, int32_t K, const float *A,
								 size_t lda, const float *Wp, size_t ldp, float *Z, size_t ldz,
								 bool accumulate);

/* ---- batch inference (infer.c) ---- */

/* layer l's [W_ih | W_hh] (4H, in_l + H) within packed, every layer's weights from nn_pack_layers */
const float *nn_packed_layer(const nn_model *m, const float *packed, int32_t l);

/* histories below which a batch runs layer by layer (too few rows for a GEMM per step) */
#define NN_INFER_WAVE_MIN 8

/* the arguments of a wave batch's embeddings, shared by the threads computing them */
typedef struct nn_infer_job
{
	const nn_model *m;
	int32_t		T;
	const int32_t *items;
	const float *ratings;
	const int32_t *users;
	const int32_t *utag_ptr;
	const int32_t *utag_idx;
	float	   *u_out;
	const float *packed;		/* nn_pack_layers's weights */
	const float *item_gates;	/* nn_item_gates's table or NULL */
	float	   *work;			/* the histories' part of the workspace */
} nn_infer_job;

void		nn_infer_job_init(nn_infer_job *j, const nn_model *m, const float *packed, int32_t T,
							  const int32_t *items, const float *ratings,
							  const int32_t *users, const int32_t *utag_ptr,
							  const int32_t *utag_idx, const float *item_gates,
							  float *u_out, float *work);
/* nn_rows_fn: the embeddings of the job's histories [r0, r1) as a wave (any split, any threads) */
void		nn_infer_rows(void *arg, int32_t slice, int32_t r0, int32_t r1);

/*
 * nn_infer_batch on threads threads: more than one only with OpenBLAS set
 * to one thread (the caller's duty).  item_gates (N+1, 4H) from
 * nn_item_gates, or NULL, gives the first layer's item columns of every
 * item precomputed (used by batches of NN_INFER_WAVE_MIN histories or more).
 */
void		nn_infer_on(const nn_model *m, const float *packed, int32_t B, int32_t T,
						const int32_t *items, const float *ratings,
						const int32_t *users, const int32_t *utag_ptr,
						const int32_t *utag_idx, const float *item_gates,
						float *u_out, float *work, int32_t threads);

/* ---- input assembly (input.c) ---- */

/* floats of per-row user context: D with user tags, + D with user ids */
int32_t		nn_context_dim(const nn_config *cfg);

/* (D) mean of the tag embeddings of item j (zero for no tags) */
void		nn_item_tag_mean(const nn_model *m, int32_t j, float *out);

/*
 * (ctx_dim) user context of one row: mean E_utag[utags] then E_user[user];
 * user tags outside the vocabulary are skipped, a user outside 1..U gives a
 * zero embedding.
 */
void		nn_user_context(const nn_model *m, int32_t user, const int32_t *utags,
							int32_t n_utags, float *ctx);

/*
 * One step input x (in_0) = [E_item[item]; tag mean; rating; ctx]; item 0
 * gives a zero vector.
 */
void		nn_step_input(const nn_model *m, int32_t item, float rating,
						  const float *ctx, float *x);

/*
 * Step inputs X (T, B, in_0) of B windows: items/ratings are (B, ld) read at
 * columns 0..T-1; users (B) and utag CSR may be NULL; ctx (B, ctx_dim) is
 * filled with each row's user context.
 */
void		nn_input_forward(const nn_model *m, int32_t B, int32_t T, int32_t ld,
							 const int32_t *items, const float *ratings,
							 const int32_t *users, const int32_t *utag_ptr,
							 const int32_t *utag_idx, float *ctx, float *X);

/*
 * Backward of nn_input_forward: dX (T, B, in_0) into the embedding gradients
 * of g (a model view over the gradient buffer).  dctx (B, ctx_dim) is
 * workspace.  touched (optional, per table) gets 1 for every row written.
 */
typedef struct nn_touched
{
	uint8_t    *item;			/* (N+1) item_emb and item_bias rows */
	uint8_t    *tag;			/* (G+1) */
	uint8_t    *utag;			/* (UG+1) */
	uint8_t    *user;			/* (U+1) */
} nn_touched;

void		nn_input_backward(const nn_model *m, int32_t B, int32_t T, int32_t ld,
							  const int32_t *items, const int32_t *users,
							  const int32_t *utag_ptr, const int32_t *utag_idx,
							  const float *dX, float *dctx, nn_model *g,
							  nn_touched *touched);

/* ---- LSTM layer (lstm.c) ---- */

/*
 * one layer's weights: w_ih (4H, in), w_hh (4H, H), b_ih (4H), b_hh (4H);
 * packed: [W_ih | W_hh] packed by nn_pack_cols (4H, in + H) for inference,
 * or NULL
 */
typedef struct nn_lstm_weights
{
	int32_t		in;
	int32_t		H;
	const float *w_ih;
	const float *w_hh;
	const float *b_ih;
	const float *b_hh;
	const float *packed;
} nn_lstm_weights;

/* activations one layer keeps for its backward pass, each time-major */
typedef struct nn_lstm_acts
{
	float	   *Z;				/* (T, B, 4H) activated gates i, f, g, o */
	float	   *C;				/* (T, B, H) cell states */
	float	   *TC;				/* (T, B, H) tanh of the cell states */
	float	   *Hs;				/* (T, B, H) hidden states */
} nn_lstm_acts;

/*
 * Run one layer over X (T, B, in).  live (T, B) marks real steps; at any
 * other step the row carries its state over (h_t = h_{t-1}, c_t = c_{t-1},
 * gates zero), so left padding leaves the state at zero.  Products on
 * w->packed when set, else on the BLAS.
 */
void		nn_lstm_forward(const nn_lstm_weights *w, int32_t B, int32_t T,
							const float *X, const uint8_t *live, nn_lstm_acts *a);

/*
 * Backward through time.  dH (T, B, H) is the loss gradient on the hidden
 * states (overwritten); adds weight gradients into dw (same layout as w) and
 * writes dX (T, B, in) unless NULL.  Workspace: dZ (T, B, 4H), two (B, H).
 */
typedef struct nn_lstm_grads
{
	float	   *w_ih;
	float	   *w_hh;
	float	   *b_ih;
	float	   *b_hh;
} nn_lstm_grads;

void		nn_lstm_backward(const nn_lstm_weights *w, int32_t B, int32_t T,
							 const float *X, const uint8_t *live,
							 const nn_lstm_acts *a, float *dH, float *dX,
							 nn_lstm_grads *dw, float *dZ, float *dh, float *dc);

/* a model's layer l as nn_lstm_weights (packed NULL) */
void		nn_layer_weights(const nn_model *m, int32_t l, nn_lstm_weights *w);

/*
 * a model's layer l as nn_lstm_weights, packed pointing at its [W_ih | W_hh]
 * within packed (every layer's weights from nn_pack_layers)
 */
void		nn_packed_layer_weights(const nn_model *m, const float *packed, int32_t l,
									nn_lstm_weights *w);

/* floats between the panels of w's packed [W_ih | W_hh] (in + H columns each) */
size_t		nn_lstm_packed_ldp(const nn_lstm_weights *w);

/*
 * w's packed [W_ih | W_hh] from its column k0 on (0: the input's first,
 * w->in: W_hh's first), for nn_gemm_packed with nn_lstm_packed_ldp(w)
 */
const float *nn_lstm_packed_cols(const nn_lstm_weights *w, int32_t k0);

/*
 * One step of one layer for a single sequence: h, c (H) updated in place
 * from x (in); work (6H) is workspace.
 */
void		nn_lstm_step(const nn_lstm_weights *w, const float *x, float *h, float *c,
						 float *work);

/*
 * One step of one layer for n rows of a batch kept as states only: A
 * (n, K) each row's input then its h_{t-1}; Wp the matching K columns of
 * [W_ih | W_hh] packed by nn_pack_cols, panels ldp floats apart; Z (n, 4H) gets the gate
 * pre-activations, added to its contents when accumulate, replacing them
 * otherwise; row r's h (H) at S + rows[r] * ld with its c (H) right after,
 * updated in place; scratch (2H) workspace.
 */
void		nn_lstm_rows_step(const nn_lstm_weights *w, const float *Wp, size_t ldp, int32_t K, int32_t n,
							  const float *A, const int32_t *rows, float *S, size_t ld,
							  float *Z, bool accumulate, float *scratch);

/*
 * The cells of B rows: Z (B, 4H) gate pre-activations without bias, in;
 * activated gates, out; C_prev (B, H) previous cell states; writes C, TC
 * and Hs (B, H each).  No two arrays overlap.
 */
void		nn_lstm_cells(const nn_lstm_weights *w, int32_t B, float *Z, const float *C_prev,
						  float *C, float *TC, float *Hs);

/* ---- output layer (output.c) ---- */

/* positions per chunk of the output layer's logits buffer */
#define NN_OUTPUT_CHUNK 128

/* U (P, D) = Hv (P, H) · proj^T (proj (D, H)) */
void		nn_project(const float *proj, int32_t D, int32_t H, int32_t P,
					   const float *Hv, float *U);
/* dHv (P, H) = dU · proj; dproj (D, H) += dU^T · Hv */
void		nn_project_backward(const float *proj, int32_t D, int32_t H, int32_t P,
								const float *Hv, const float *dU, float *dHv,
								float *dproj);

/*
 * Backward of nn_item_output: dout (N+1, D) into dE_item and dE_tag of g;
 * marks the tag rows written in touched->tag when given.
 */
void		nn_item_output_backward(const nn_model *m, const float *dout, nn_model *g,
									nn_touched *touched);

/* floats of nn_output_full's workspace for N items of D floats */
size_t		nn_output_full_work_floats(int32_t N, int32_t D);

/*
 * Full-softmax cross-entropy of P positions: U (P, D), targets (P) in 1..N,
 * out (N+1, D), bias (N+1).  Returns the summed loss; writes dU (P, D) and
 * adds into dout (N+1, D) and dbias (N+1) the gradients of scale * loss.
 * work has nn_output_full_work_floats(N, D) floats.
 */
double		nn_output_full(int32_t N, int32_t D, int32_t P, const float *U,
						   const int32_t *targets, const float *out, const float *bias,
						   float scale, float *dU, float *dout, float *dbias,
						   float *work);

/*
 * Sampled softmax with K shared negatives neg (K) and logQ correction logq
 * (N+1, log of each item's expected count among the draws): position p's
 * logits are its target's and the negatives' (a negative equal to the
 * target is masked out), each minus its logq.  Shapes and outputs as
 * nn_output_full; gradients reach only the target and negative rows.
 * Workspace: logits (NN_OUTPUT_CHUNK, K + 1), nout (K, D), dnout (K, D).
 */
double		nn_output_sampled(int32_t D, int32_t P, const float *U,
							  const int32_t *targets, int32_t K, const int32_t *neg,
							  const float *logq, const float *out, const float *bias,
							  float scale, float *dU, float *dout, float *dbias,
							  float *logits, float *nout, float *dnout);

/* ---- optimiser (adam.c) ---- */

typedef struct nn_adam
{
	float		lr,
				beta1,
				beta2,
				eps;
	float		step_size;		/* lr / (1 - beta1^t) */
	float		inv_sqrt_bc2;	/* 1 / sqrt(1 - beta2^t) */
	float		grad_scale;		/* clipping factor applied to the gradients */
} nn_adam;

/* set the per-step coefficients of a for step number step (1-based) */
void		nn_adam_begin(nn_adam *a, int64_t step, float grad_scale);
/* one Adam step on p, m, v (n) from the gradient g (n) */
void		nn_adam_update(const nn_adam *a, float *p, const float *g, float *m, float *v,
						   size_t n);
/* Adam on the rows (width floats each) flagged in touched (rows) */
void		nn_adam_rows(const nn_adam *a, float *p, const float *g, float *m, float *v,
						 size_t width, int32_t rows, uint8_t *touched);
/* Euclidean norm of g (n), summed in double */
double		nn_grad_norm(const float *g, size_t n);

/* ---- trainer internals (trainer.c), for the gradient tests ---- */

/*
 * Forward and backward of one batch without the update: fills the gradient
 * buffer (nn_trainer_grad) with the gradient of the mean loss; returns the
 * summed loss in *loss and the number of positions in *n_pos.  When neg is
 * not NULL it replaces the sampled negatives (K of them).
 */
int			nn_trainer_gradient(nn_trainer *t, const nn_batch *b, const int32_t *neg,
								int32_t K, double *loss, int64_t *n_pos, nn_error *err);
/* the gradient buffer, laid out as the model's parameters */
float	   *nn_trainer_grad(nn_trainer *t);

/*
 * Everything of a trainer that carries from one step to the next: the model
 * it trains, Adam's moments (n_params each), the step count and the
 * generator of dropout masks and negatives (the rest is per-batch workspace).
 */
typedef struct nn_trainer_state_parts
{
	nn_model   *m;
	float	   *adam_m;
	float	   *adam_v;
	int64_t    *step;
	nn_rng	   *rng;
} nn_trainer_state_parts;

void		nn_trainer_parts(nn_trainer *t, nn_trainer_state_parts *parts);

#endif
