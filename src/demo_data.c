/*
 * demo_data.c — a synthetic, anime-like data set with planted sequential
 * patterns: animerec.demo_items(items, seed) and
 * animerec.demo_ratings(users, items, seed), both set-returning functions
 * materialised through a tuplestore.  animerec.generate_demo_data()
 * (sql/install/10_data.sql) turns them into tables.
 *
 * Everything is drawn from a private splitmix64 generator, so the output
 * depends only on (users, items, seed): not on random(), setseed(), the
 * PostgreSQL version or the platform.  The catalogue is drawn from the seed
 * alone and each user from (seed, user_id), so demo_items(n, s) is the same
 * catalogue that demo_ratings(u, n, s) draws from, and user 7's history does
 * not change when more users are asked for.
 *
 * Planted patterns (a sequence model can learn them, popularity cannot):
 *
 *  1. Series.  Items come in series of 1 to 4 seasons (45% / 25% / 18% / 12%)
 *     with consecutive ids; season 1 is named "<title>", season k
 *     "<title> Season k".  After watching a season that has a sequel the user
 *     watches the sequel next with probability 0.85 (unless already seen).
 *     Starting a series means starting at its first unseen season.
 *  2. Genre drift.  Each series has 2 to 4 of the 40 genres.  Each user has
 *     a first genre and a different second genre; at step t of a history of
 *     length L a new series is chosen from the second genre with probability
 *     t / (L - 1), else from the first (so taste shifts over the history).
 *     80% of new series come from the current genre, 20% from everything.
 *  3. Popularity skew.  Series get a random popularity rank r and weight
 *     1 / r (Zipf, exponent 1), both within a genre and overall.
 *  4. Ratings follow taste.  rating = round(4.5 + 3.5 * a + q + e) clamped to
 *     1..10, where a = 1 when the item has the user's current genre, 0.5 when
 *     it has the other taste genre, else 0; q is the series' quality
 *     (about -1.5..1.5) and e noise (about -1.5..1.5).
 *  5. Time.  A user's first rating falls in 2016-2017; each next one follows
 *     1 hour to 6 days later, so rated_at orders every history strictly.
 *
 * History lengths are 5 + an exponential with mean 70, at most 200 (and at
 * most half the catalogue): about 70 ratings per user on average.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "animerec.h"

#define DEMO_MIN_ITEMS		100
#define DEMO_MAX_ITEMS		1000000
#define DEMO_MAX_USERS		10000000
#define DEMO_NGENRES		40
#define DEMO_MIN_HISTORY	5
#define DEMO_MAX_HISTORY	200
#define DEMO_MEAN_EXTRA		70.0
#define DEMO_P_SEQUEL		0.85
#define DEMO_P_GENRE		0.80
#define DEMO_PICK_TRIES		30
/* 2016-01-01 00:00:00 UTC as a TimestampTz (days since 2000-01-01) */
#define DEMO_EPOCH			((TimestampTz) 5844 * USECS_PER_DAY)

/* MyAnimeList genre names, in alphabetical order (tags are listed in this order) */
static const char *const demo_genres[DEMO_NGENRES] = {
	"Action", "Adventure", "Cars", "Comedy", "Dementia", "Demons", "Drama",
	"Ecchi", "Fantasy", "Game", "Harem", "Historical", "Horror", "Josei",
	"Kids", "Magic", "Martial Arts", "Mecha", "Military", "Music", "Mystery",
	"Parody", "Police", "Psychological", "Romance", "Samurai", "School",
	"Sci-Fi", "Seinen", "Shoujo", "Shoujo Ai", "Shounen", "Shounen Ai",
	"Slice of Life", "Space", "Sports", "Super Power", "Supernatural",
	"Thriller", "Vampire"
};

/* words for series titles: "<first> <second>" */
static const char *const demo_title_first[] = {
	"Crimson", "Silent", "Eternal", "Shining", "Hidden", "Broken", "Lonely",
	"Midnight", "Steel", "Azure", "Golden", "Phantom", "Wandering", "Last",
	"Tokyo", "Kyoto", "Starlight", "Clockwork", "Spirited", "Burning",
	"Frozen", "Little", "Ghost", "Neon"
};
static const char *const demo_title_second[] = {
	"Blade", "Academy", "Sky", "Alchemist", "Hunter", "Symphony", "Garden",
	"Knight", "Detective", "Idol", "Samurai", "Witch", "Pilot", "Summer",
	"Dragon", "Festival", "Kingdom", "Runner", "Melody", "Horizon", "Shrine",
	"Circuit", "Blossom", "Legend", "Tide", "Voyage", "Ronin", "Arcade",
	"Lantern", "Frontier"
};

#define lengthof_array(a) ((int) (sizeof(a) / sizeof((a)[0])))

/* splitmix64 generator state */
typedef struct DemoRng
{
	uint64		state;
} DemoRng;

/* One series: a run of consecutive items (seasons) sharing genres and quality */
typedef struct DemoSeries
{
	int32		first;			/* index of season 1 in the item array */
	int32		nseasons;
	uint64		genres;			/* bit g set: has demo_genres[g] */
	double		quality;
	int32		title;			/* index into the first x second title words */
} DemoSeries;

/* A cumulative-weight table over a list of series, for weighted draws */
typedef struct DemoPicker
{
	int32		n;
	int32	   *series;
	double	   *cdf;
} DemoPicker;

/* The catalogue drawn from (items, seed) */
typedef struct DemoCatalogue
{
	int32		nitems;
	int32		nseries;
	DemoSeries *series;
	int32	   *item_series;	/* item index -> series index */
	DemoPicker	all;
	DemoPicker	by_genre[DEMO_NGENRES];
} DemoCatalogue;

/* Seed a generator from the user's seed and a stream number. */
static void
rng_init(DemoRng *rng, int32 seed, int64 stream)
{
	rng->state = (uint64) (uint32) seed * UINT64CONST(0x9E3779B97F4A7C15) ^
		(uint64) stream * UINT64CONST(0xD1B54A32D192ED03);
}

/* Next 64 random bits (splitmix64). */
static uint64
rng_next(DemoRng *rng)
{
	uint64		z = (rng->state += UINT64CONST(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* Uniform double in [0, 1). */
static double
rng_uniform(DemoRng *rng)
{
	return (double) (rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, n). */
static int32
rng_below(DemoRng *rng, int32 n)
{
	return (int32) (rng_uniform(rng) * n);
}

/* Roughly bell-shaped value in [-1.5, 1.5): sum of three uniforms, centred. */
static double
rng_bell(DemoRng *rng)
{
	return rng_uniform(rng) + rng_uniform(rng) + rng_uniform(rng) - 1.5;
}

/* Raise the standard error for an out-of-range argument. */
static void
demo_check_range(const char *arg, int32 value, int32 min, int32 max)
{
	if (value < min || value > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between %d and %d, not %d", arg, min, max, value)));
}

/* Draw a series index from a picker, proportionally to its weights. */
static int32
picker_draw(const DemoPicker *p, DemoRng *rng)
{
	double		u = rng_uniform(rng) * p->cdf[p->n - 1];
	int32		lo = 0,
				hi = p->n - 1;

	while (lo < hi)
	{
		int32		mid = (lo + hi) / 2;

		if (p->cdf[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return p->series[lo];
}

/* Fill a picker with the series whose genres include mask (0: all series). */
static void
picker_build(DemoPicker *p, const DemoCatalogue *cat, const double *weight, uint64 mask)
{
	double		total = 0.0;
	int32		count = 0;
	int32		s;

	for (s = 0; s < cat->nseries; s++)
		if (mask == 0 || (cat->series[s].genres & mask) != 0)
			count++;
	p->n = 0;
	p->series = palloc(sizeof(int32) * Max(count, 1));
	p->cdf = palloc(sizeof(double) * Max(count, 1));
	for (s = 0; s < cat->nseries; s++)
	{
		if (mask != 0 && (cat->series[s].genres & mask) == 0)
			continue;
		total += weight[s];
		p->series[p->n] = s;
		p->cdf[p->n] = total;
		p->n++;
	}
}

/* Draw the genres of one series: a primary genre and 1 to 3 more. */
static uint64
draw_genres(DemoRng *rng)
{
	uint64		genres = UINT64CONST(1) << rng_below(rng, DEMO_NGENRES);
	int			extra = 1 + rng_below(rng, 3);

	while (extra > 0)
	{
		uint64		g = UINT64CONST(1) << rng_below(rng, DEMO_NGENRES);

		if ((genres & g) == 0)
		{
			genres |= g;
			extra--;
		}
	}
	return genres;
}

/* Draw a series length: 1..4 seasons with probabilities .45/.25/.18/.12. */
static int32
draw_seasons(DemoRng *rng)
{
	double		u = rng_uniform(rng);

	if (u < 0.45)
		return 1;
	if (u < 0.70)
		return 2;
	if (u < 0.88)
		return 3;
	return 4;
}

/* Build the catalogue of nitems items from the seed (stream 0). */
static void
catalogue_build(DemoCatalogue *cat, int32 nitems, int32 seed)
{
	DemoRng		rng;
	int32		placed = 0;
	int32	   *rank;
	double	   *weight;
	int32		s,
				g;

	rng_init(&rng, seed, 0);
	cat->nitems = nitems;
	cat->nseries = 0;
	cat->series = palloc(sizeof(DemoSeries) * nitems);
	cat->item_series = palloc(sizeof(int32) * nitems);
	while (placed < nitems)
	{
		DemoSeries *ser = &cat->series[cat->nseries];
		int32		i;

		ser->first = placed;
		ser->nseasons = Min(draw_seasons(&rng), nitems - placed);
		ser->genres = draw_genres(&rng);
		ser->quality = rng_bell(&rng);
		ser->title = rng_below(&rng, lengthof_array(demo_title_first) *
							   lengthof_array(demo_title_second));
		for (i = 0; i < ser->nseasons; i++)
			cat->item_series[placed + i] = cat->nseries;
		placed += ser->nseasons;
		cat->nseries++;
	}

	/* popularity: a random permutation of ranks 1..nseries, weight 1/rank */
	rank = palloc(sizeof(int32) * cat->nseries);
	weight = palloc(sizeof(double) * cat->nseries);
	for (s = 0; s < cat->nseries; s++)
		rank[s] = s + 1;
	for (s = cat->nseries - 1; s > 0; s--)
	{
		int32		j = rng_below(&rng, s + 1);
		int32		t = rank[s];

		rank[s] = rank[j];
		rank[j] = t;
	}
	for (s = 0; s < cat->nseries; s++)
		weight[s] = 1.0 / rank[s];

	picker_build(&cat->all, cat, weight, 0);
	for (g = 0; g < DEMO_NGENRES; g++)
		picker_build(&cat->by_genre[g], cat, weight, UINT64CONST(1) << g);
	pfree(rank);
	pfree(weight);
}

/* The tags of a series as a text[] in genre order. */
static Datum
series_tags(const DemoSeries *ser, const Datum *genre_text)
{
	Datum		elems[DEMO_NGENRES];
	int			n = 0;
	int			g;

	for (g = 0; g < DEMO_NGENRES; g++)
		if (ser->genres & (UINT64CONST(1) << g))
			elems[n++] = genre_text[g];
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(animerec_demo_items);

/*
 * demo_items(items int, seed int) -> SETOF (item_id bigint, name text, tags text[])
 * The catalogue: item ids 1..items.
 */
Datum
animerec_demo_items(PG_FUNCTION_ARGS)
{
	int32		nitems = PG_GETARG_INT32(0);
	int32		seed = PG_GETARG_INT32(1);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DemoCatalogue cat;
	Datum		genre_text[DEMO_NGENRES];
	int32		g,
				i;

	demo_check_range("items", nitems, DEMO_MIN_ITEMS, DEMO_MAX_ITEMS);
	InitMaterializedSRF(fcinfo, 0);
	catalogue_build(&cat, nitems, seed);
	for (g = 0; g < DEMO_NGENRES; g++)
		genre_text[g] = CStringGetTextDatum(demo_genres[g]);

	for (i = 0; i < nitems; i++)
	{
		const DemoSeries *ser = &cat.series[cat.item_series[i]];
		int32		season = i - ser->first + 1;
		const char *first = demo_title_first[ser->title % lengthof_array(demo_title_first)];
		const char *second = demo_title_second[ser->title / lengthof_array(demo_title_first)];
		char	   *name;
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		if (season == 1)
			name = psprintf("%s %s", first, second);
		else
			name = psprintf("%s %s Season %d", first, second, season);
		values[0] = Int64GetDatum((int64) i + 1);
		values[1] = CStringGetTextDatum(name);
		values[2] = series_tags(ser, genre_text);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		pfree(name);
		pfree(DatumGetPointer(values[1]));
		pfree(DatumGetPointer(values[2]));
	}
	return (Datum) 0;
}

/* Per-user state while drawing one history */
typedef struct DemoUser
{
	DemoRng		rng;
	int32		stamp;			/* marks seen[] entries of this user */
	int			taste[2];		/* first and second genre */
	int32		length;
} DemoUser;

/* The first season of series s that the user has not seen, or -1. */
static int32
first_unseen(const DemoCatalogue *cat, int32 s, const int32 *seen, int32 stamp)
{
	const DemoSeries *ser = &cat->series[s];
	int32		k;

	for (k = 0; k < ser->nseasons; k++)
		if (seen[ser->first + k] != stamp)
			return ser->first + k;
	return -1;
}

/* Choose the item at step t of the user's history, given the previous item. */
static int32
next_item(const DemoCatalogue *cat, DemoUser *u, int32 t, int32 last,
		  const int32 *seen, int *genre)
{
	int32		item = -1;
	int32		attempt;

	/* the planted genre drift: P(second genre) grows from 0 to 1 */
	*genre = u->taste[rng_uniform(&u->rng) * (u->length - 1) < t ? 1 : 0];

	/* the planted sequel pattern */
	if (last >= 0 && last + 1 < cat->nitems &&
		cat->item_series[last + 1] == cat->item_series[last] &&
		seen[last + 1] != u->stamp && rng_uniform(&u->rng) < DEMO_P_SEQUEL)
		return last + 1;

	for (attempt = 0; attempt < DEMO_PICK_TRIES && item < 0; attempt++)
	{
		const DemoPicker *p = rng_uniform(&u->rng) < DEMO_P_GENRE ?
			&cat->by_genre[*genre] : &cat->all;

		if (p->n > 0)
			item = first_unseen(cat, picker_draw(p, &u->rng), seen, u->stamp);
	}
	if (item < 0)
	{
		/* very unlucky draws: the next unseen item after a random one */
		item = rng_below(&u->rng, cat->nitems);
		while (seen[item] == u->stamp)
			item = (item + 1) % cat->nitems;
	}
	return item;
}

/* The planted rating: taste affinity plus series quality plus noise, 1..10. */
static float4
draw_rating(const DemoCatalogue *cat, DemoUser *u, int32 item, int genre)
{
	uint64		genres = cat->series[cat->item_series[item]].genres;
	int			other = u->taste[0] == genre ? u->taste[1] : u->taste[0];
	double		affinity = 0.0;
	double		r;

	if (genres & (UINT64CONST(1) << genre))
		affinity = 1.0;
	else if (genres & (UINT64CONST(1) << other))
		affinity = 0.5;
	r = rint(4.5 + 3.5 * affinity + cat->series[cat->item_series[item]].quality +
			 rng_bell(&u->rng));
	return (float4) Max(1.0, Min(10.0, r));
}

/* Draw user user_id's history and append its rows to the tuplestore. */
static void
emit_user(const DemoCatalogue *cat, int32 seed, int32 user_id, int32 *seen,
		  ReturnSetInfo *rsinfo)
{
	DemoUser	u;
	TimestampTz at;
	int32		last = -1;
	int32		t;
	double		extra;

	rng_init(&u.rng, seed, user_id);
	u.stamp = user_id;
	u.taste[0] = rng_below(&u.rng, DEMO_NGENRES);
	u.taste[1] = (u.taste[0] + 1 + rng_below(&u.rng, DEMO_NGENRES - 1)) % DEMO_NGENRES;
	extra = -log(1.0 - rng_uniform(&u.rng)) * DEMO_MEAN_EXTRA;
	u.length = DEMO_MIN_HISTORY + (int32) Min(extra, (double) DEMO_MAX_HISTORY);
	u.length = Min(u.length, Min(DEMO_MAX_HISTORY, cat->nitems / 2));
	at = DEMO_EPOCH + (TimestampTz) (rng_uniform(&u.rng) * 730 * SECS_PER_DAY) * USECS_PER_SEC;

	for (t = 0; t < u.length; t++)
	{
		int			genre;
		int32		item = next_item(cat, &u, t, last, seen, &genre);
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		seen[item] = u.stamp;
		values[0] = Int64GetDatum((int64) user_id);
		values[1] = Int64GetDatum((int64) item + 1);
		values[2] = Float4GetDatum(draw_rating(cat, &u, item, genre));
		values[3] = TimestampTzGetDatum(at);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		at += (TimestampTz) (SECS_PER_HOUR + rng_uniform(&u.rng) * 6 * SECS_PER_DAY) * USECS_PER_SEC;
		last = item;
	}
}

PG_FUNCTION_INFO_V1(animerec_demo_ratings);

/*
 * demo_ratings(users int, items int, seed int)
 *   -> SETOF (user_id bigint, item_id bigint, rating real, rated_at timestamptz)
 * The histories of users 1..users, each in rated_at order.
 */
Datum
animerec_demo_ratings(PG_FUNCTION_ARGS)
{
	int32		nusers = PG_GETARG_INT32(0);
	int32		nitems = PG_GETARG_INT32(1);
	int32		seed = PG_GETARG_INT32(2);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DemoCatalogue cat;
	int32	   *seen;
	int32		user_id;

	demo_check_range("users", nusers, 1, DEMO_MAX_USERS);
	demo_check_range("items", nitems, DEMO_MIN_ITEMS, DEMO_MAX_ITEMS);
	InitMaterializedSRF(fcinfo, 0);
	catalogue_build(&cat, nitems, seed);
	seen = palloc0(sizeof(int32) * nitems);

	for (user_id = 1; user_id <= nusers; user_id++)
	{
		CHECK_FOR_INTERRUPTS();
		emit_user(&cat, seed, user_id, seen, rsinfo);
	}
	pfree(seen);
	return (Datum) 0;
}
