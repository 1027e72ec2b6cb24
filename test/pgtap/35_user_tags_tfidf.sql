-- pgTAP: animerec.user_tags_tfidf on small inline text, with the weights
-- worked out by hand from the documented formula (scikit-learn's
-- TfidfVectorizer defaults over each user's to_tsvector lexemes), ties,
-- the text search configuration, k, identifiers that need quoting, the
-- errors, and a result that feeds train(user_tags => ...).
--
-- With config 'english' and N = 4 users with text (user 3 writes only stop
-- words), idf(df) = ln(5 / (1 + df)) + 1:
--   user 1 'Cats, cats & dogs.'  cat: 2 idf(1) = 3.8325815, dog: 1 idf(2) = 1.5108256
--                                norm 4.1196207, so 0.9303238 and 0.3667390
--   user 2 'Dogs; birds!'        dog 1.5108256, bird 1.9162907: 0.6191303, 0.7852883
--   user 4 two rows 'apple', 'banana': a tie at 1/sqrt(2), 'appl' before 'banana'
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS animerec;
SET client_min_messages = warning;
SET animerec.progress_notices = off;
SELECT plan(15);

CREATE TABLE tap_notes (uid int, body text);
INSERT INTO tap_notes VALUES
    (1, 'Cats, cats & dogs.'), (2, 'Dogs; birds!'), (3, 'the and'), (4, 'apple'), (4, 'banana'),
    (NULL, 'owls'), (2, NULL);

-- rows of a result as "user:tag:weight" (the real weights to 7 decimals), in the function's order
CREATE FUNCTION pg_temp.rows_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    EXECUTE format('SELECT string_agg(user_id || '':'' || tag || '':'' || round(weight::float8::numeric, 7), '' '')'
                   ' FROM (%s) t', q) INTO r;
    RETURN r;
END
$$;

SELECT is(pg_temp.rows_of($$SELECT * FROM animerec.user_tags_tfidf('tap_notes', 'uid', 'body')$$),
          '1:cat:0.9303238 1:dog:0.3667390 2:bird:0.7852883 2:dog:0.6191303 4:appl:0.7071068 4:banana:0.7071068',
          'english: stemmed terms without stop words, the hand-computed TF-IDF weights, ties by byte order');
SELECT is(pg_temp.rows_of($$SELECT * FROM animerec.user_tags_tfidf('tap_notes', 'uid', 'body', k => 1)$$),
          '1:cat:0.9303238 2:bird:0.7852883 4:appl:0.7071068',
          'k => 1 keeps each user''s first term');
SELECT is(pg_temp.rows_of($$SELECT * FROM animerec.user_tags_tfidf('tap_notes', 'uid', 'body', 1, 'simple')$$),
          '1:cats:0.9303238 2:birds:0.7852883 3:and:0.7071068 4:apple:0.7071068',
          'config simple: unstemmed words, stop words kept (user 3''s tie goes to ''and'')');
SELECT is((SELECT sum(weight * weight)::numeric(8, 6) FROM animerec.user_tags_tfidf('tap_notes', 'uid', 'body')
            WHERE user_id = 1), 1.0::numeric(8, 6),
          'a user''s weights over all their terms have unit length');
SELECT is((SELECT array_agg(user_id ORDER BY user_id) FROM
             (SELECT DISTINCT user_id FROM animerec.user_tags_tfidf('tap_notes', 'uid', 'body')) u),
          '{1,2,4}'::bigint[], 'rows with a NULL user or text are skipped, a user of stop words only has no tags');

-- identifiers that need quoting, bigint ids beyond int
CREATE TABLE "Tap Odd ""Notes""" ("User Id" bigint, "body; DROP TABLE tap_notes" varchar(40));
INSERT INTO "Tap Odd ""Notes""" VALUES (5000000000, 'dragons dragons knights'), (5000000001, 'knights');
SELECT is(pg_temp.rows_of($$SELECT * FROM animerec.user_tags_tfidf('"Tap Odd ""Notes"""', 'User Id',
                                                                    'body; DROP TABLE tap_notes')$$),
          '5000000000:dragon:0.9421556 5000000000:knight:0.3351758 5000000001:knight:1.0000000',
          'quoted identifiers, a varchar column and bigint user ids');
SELECT has_table('tap_notes', 'the column name was not executed as SQL');

-- errors
SELECT throws_ok($$SELECT * FROM animerec.user_tags_tfidf('tap_notes', 'user', 'body')$$, '42703',
                 'column "user" of relation public.tap_notes does not exist', 'a missing user column');
SELECT throws_ok($$SELECT * FROM animerec.user_tags_tfidf('tap_notes', 'uid', 'text')$$, '42703',
                 'column "text" of relation public.tap_notes does not exist', 'a missing text column');
SELECT throws_ok($$SELECT * FROM animerec.user_tags_tfidf('tap_notes', 'body', 'body')$$, '42804',
                 'user_col "body" of relation public.tap_notes must be smallint, integer or bigint, not text',
                 'a user column that is not an integer');
SELECT throws_ok($$SELECT * FROM animerec.user_tags_tfidf('tap_notes', 'uid', 'uid')$$, '42804',
                 'text_col "uid" of relation public.tap_notes must be text, varchar or char, not integer',
                 'a text column that is not text');
SELECT throws_ok($$SELECT * FROM animerec.user_tags_tfidf('tap_notes', 'uid', 'body', 0)$$, '22023',
                 'k must be between 1 and 10000, not 0', 'k below 1');
SELECT throws_ok($$SELECT * FROM animerec.user_tags_tfidf('tap_notes', NULL, 'body')$$, '22004',
                 'source, user_col, text_col, k and config must not be null', 'a NULL argument');

-- the result is a user_tags table for train
CREATE TABLE tap_tfidf_ratings AS
SELECT u AS user_id, 1 + (u + k) % 20 AS item_id, 1 + k % 5 AS rating, k AS rated_at
  FROM generate_series(1, 4) u, generate_series(0, 5) k;
CREATE TABLE tap_tfidf_tags AS SELECT * FROM animerec.user_tags_tfidf('tap_notes', 'uid', 'body');
CALL animerec.train('tap_tfidf', 'tap_tfidf_ratings', user_tags => 'tap_tfidf_tags', dim => 4, hidden => 4,
                    layers => 1, epochs => 1, holdout => false, seed => 1);
SELECT is((SELECT user_tag_vocab::text FROM animerec.models WHERE name = 'tap_tfidf'),
          '{appl,banana,bird,cat,dog}', 'train(user_tags => ...) takes the result as it is');
SELECT is((SELECT count(*)::int FROM animerec.recommend(1, 3, 'tap_tfidf')), 3,
          'and the model trained with those tags serves');

SELECT * FROM finish();
ROLLBACK;
