-- pgTAP: load_anime() and load_movielens() on the real Kaggle anime and
-- MovieLens ml-latest-small files.  scripts/test passes their directory
-- (../shared/data beside the repository, or $ANIMEREC_DATA_DIR) as the
-- setting animerec_test.data_dir; without it, or without the files, the
-- tests are skipped.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS animerec;
SELECT plan(16);

-- the absolute path of a file under the data directory, or NULL when absent
CREATE FUNCTION pg_temp.data_file(rel text) RETURNS text LANGUAGE sql AS $$
    SELECT d || '/' || rel
      FROM (SELECT nullif(current_setting('animerec_test.data_dir', true), '') AS d) s
     WHERE d IS NOT NULL AND (pg_stat_file(d || '/' || rel, true)).size IS NOT NULL
$$;

-- Kaggle "Anime Recommendations Database": anime.csv and a 35k rating sample
CREATE FUNCTION pg_temp.anime_tests() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    anime text := pg_temp.data_file('anime/anime.csv');
    ratings text := pg_temp.data_file('anime/rating_sample_35k.csv');
BEGIN
    IF anime IS NULL OR ratings IS NULL THEN
        RETURN NEXT skip('Kaggle anime files not found (animerec_test.data_dir)', 8);
        RETURN;
    END IF;
    CREATE SCHEMA real_anime;
    RETURN NEXT results_eq(
        format('SELECT * FROM animerec.load_anime(%L, %L, %L)', anime, ratings, 'real_anime'),
        $v$VALUES ('real_anime.anime'::text, 12294::bigint), ('real_anime.anime_ratings', 35000)$v$,
        'load_anime loads 12,294 anime and 35,000 ratings');
    RETURN NEXT is((SELECT name FROM real_anime.anime WHERE anime_id = 9969), 'Gintama''',
        'HTML entities are decoded (&#039;)');
    RETURN NEXT is((SELECT count(*) FROM real_anime.anime
                     WHERE name ~ '&(#[0-9]+|#x[0-9a-fA-F]+|amp|quot|lt|gt|apos);'), 0::bigint,
        'no HTML entity is left in the names');
    RETURN NEXT is((SELECT count(*) FROM real_anime.anime WHERE episodes IS NULL), 340::bigint,
        '"Unknown" episodes become NULL (340 rows)');
    RETURN NEXT is((SELECT count(*) FROM real_anime.anime WHERE tags = '{}'), 62::bigint,
        'an empty genre becomes empty tags (62 rows)');
    RETURN NEXT is((SELECT count(DISTINCT t) FROM real_anime.anime, unnest(tags) AS t), 43::bigint,
        '43 distinct genres');
    RETURN NEXT is((SELECT count(DISTINCT user_id) FROM real_anime.anime_ratings), 2892::bigint,
        '2,892 users rated');
    RETURN NEXT is((SELECT count(*) FROM real_anime.anime_ratings r
                     WHERE NOT EXISTS (SELECT 1 FROM real_anime.anime a WHERE a.anime_id = r.anime_id)),
        0::bigint, 'every rated anime is in the catalogue');
END;
$$;

-- MovieLens ml-latest-small: CRLF CSV files
CREATE FUNCTION pg_temp.movielens_tests() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    dir text := pg_temp.data_file('ml-latest-small');
BEGIN
    IF dir IS NULL OR pg_temp.data_file('ml-latest-small/ratings.csv') IS NULL THEN
        RETURN NEXT skip('MovieLens ml-latest-small not found (animerec_test.data_dir)', 8);
        RETURN;
    END IF;
    CREATE SCHEMA real_ml;
    RETURN NEXT results_eq(
        format('SELECT * FROM animerec.load_movielens(%L, %L)', dir, 'real_ml'),
        $v$VALUES ('real_ml.movies'::text, 9742::bigint), ('real_ml.movie_ratings', 100836),
                 ('real_ml.movie_user_tags', 2080)$v$,
        'load_movielens loads 9,742 movies, 100,836 ratings and 2,080 distinct user tags');
    RETURN NEXT is((SELECT count(DISTINCT user_id) FROM real_ml.movie_ratings), 610::bigint,
        '610 users rated');
    RETURN NEXT is((SELECT title FROM real_ml.movies WHERE movie_id = 11), 'American President, The (1995)',
        'quoted titles with commas');
    RETURN NEXT is((SELECT count(*) FROM real_ml.movies WHERE title ~ '\r' OR array_to_string(tags, '|') ~ '\r'),
        0::bigint, 'no carriage return is left from the CRLF line endings');
    RETURN NEXT is((SELECT count(*) FROM real_ml.movies WHERE tags = '{}'), 34::bigint,
        '"(no genres listed)" becomes empty tags (34 rows)');
    RETURN NEXT is((SELECT count(DISTINCT t) FROM real_ml.movies, unnest(tags) AS t), 19::bigint,
        '19 distinct genres');
    RETURN NEXT is((SELECT (min(rated_at), max(rated_at)) FROM real_ml.movie_ratings)::text,
                   (to_timestamp(828124615), to_timestamp(1537799250))::text,
        'rated_at spans the Unix timestamps of ratings.csv');
    RETURN NEXT is((SELECT count(*) FROM real_ml.movie_user_tags WHERE tag <> lower(btrim(tag))),
        0::bigint, 'user tags are lowercased and trimmed');
END;
$$;

SELECT * FROM pg_temp.anime_tests();
SELECT * FROM pg_temp.movielens_tests();
SELECT * FROM finish();
ROLLBACK;
