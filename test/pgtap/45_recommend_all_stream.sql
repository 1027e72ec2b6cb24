-- pgTAP: recommend_all streams (src/recommend_all.c).  The answer does not
-- depend on how it is read (whole, with LIMIT, through a cursor, for given
-- users) nor on the threads that score it, nor on work_mem (rows spilled to
-- disk, the item gates table built or not); a block still being scored on
-- other threads survives an error, a rollback and BLAS use of the backend
-- itself in the same transaction; the planner inlines the SQL function (no
-- Function Scan, which would run it to completion); and a LIMIT stops the
-- work: the ratings table is read only in part.  train commits, so this file
-- cleans up after itself.
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS animerec;
SET client_min_messages = warning;
SET animerec.progress_notices = off;
SELECT plan(20);

DROP SCHEMA IF EXISTS tap_stream CASCADE;
CREATE SCHEMA tap_stream;
\o /dev/null
SELECT * FROM animerec.generate_demo_data(700, 150, 4, 'tap_stream');
\o
CALL animerec.train('tap_stream', 'tap_stream.demo_ratings', dim => 8, hidden => 8, layers => 1, maxlen => 10,
                    epochs => 1, seed => 5);
CREATE TEMP TABLE tap_all AS
SELECT row_number() OVER (ORDER BY user_id, rank) AS n, * FROM animerec.recommend_all(4, 'tap_stream');

SELECT is((SELECT count(*) FILTER (WHERE c <> 4) FROM (SELECT count(*) AS c FROM tap_all GROUP BY user_id) g)
          + abs((SELECT count(DISTINCT user_id) FROM tap_all) - (SELECT count(DISTINCT user_id) FROM tap_stream.demo_ratings)),
          0::bigint, 'every user once, with k rows, across blocks of 8, 16, ..., 256 users');
SELECT is((SELECT count(*) FROM tap_all a
           JOIN LATERAL animerec.recommend(a.user_id, 4, 'tap_stream') r ON r.rank = a.rank
           WHERE r.item_id <> a.item_id OR abs(r.score - a.score) > 1e-5), 0::bigint,
          'the rows are recommend''s for each user');
SELECT is((SELECT count(*) FROM (SELECT user_id, rank, item_id FROM tap_all
                                 EXCEPT SELECT user_id, rank, item_id
                                 FROM animerec.recommend_all(4, 'tap_stream',
                                     (SELECT array_agg(DISTINCT user_id::bigint) FROM tap_stream.demo_ratings))) d),
          0::bigint, 'the same for the users given as an array');
SELECT results_eq($$SELECT user_id, rank, item_id FROM animerec.recommend_all(4, 'tap_stream') LIMIT 30$$,
                  $$SELECT user_id, rank, item_id FROM tap_all WHERE n <= 30 ORDER BY n$$,
                  'LIMIT gives the first rows of the whole answer');
BEGIN;
DECLARE tap_c CURSOR FOR SELECT user_id, rank, item_id FROM animerec.recommend_all(4, 'tap_stream');
CREATE TEMP TABLE tap_fetched (user_id bigint, rank int, item_id bigint);
\o /dev/null
FETCH 15 FROM tap_c;
\o
SELECT results_eq($$FETCH 40 FROM tap_c$$, $$SELECT user_id, rank, item_id FROM tap_all WHERE n BETWEEN 16 AND 55 ORDER BY n$$,
                  'a cursor fetches the rows in order, block after block');
CLOSE tap_c;
COMMIT;

-- the pipeline: blocks after the first are scored on threads of their own
SET animerec.threads = 2;
SELECT is((SELECT count(*) FROM (SELECT user_id, rank, item_id FROM tap_all
                                 EXCEPT SELECT user_id, rank, item_id FROM animerec.recommend_all(4, 'tap_stream')) d),
          0::bigint, 'with animerec.threads = 2 the answer is the same');
-- a cursor left after 100 rows has a block being scored; then an error and a rollback
BEGIN;
DECLARE tap_e CURSOR FOR SELECT user_id, rank, item_id FROM animerec.recommend_all(4, 'tap_stream');
\o /dev/null
FETCH 100 FROM tap_e;
\o
SAVEPOINT s;
SELECT throws_ok('SELECT 1 / 0', '22012', NULL, 'an error while a block is being scored');
ROLLBACK TO SAVEPOINT s;
-- the backend's own BLAS (recommend) right after the cursor reached row 225,
-- the first of the block of 64 users, when the block of the next 128 began
-- to be scored: the backend helps finish that block, and the cursor goes on
CREATE FUNCTION pg_temp.move_then_recommend() RETURNS bigint[]
    LANGUAGE plpgsql AS $$
DECLARE
    c refcursor := 'tap_e';
BEGIN
    MOVE FORWARD 125 FROM c;
    RETURN (SELECT array_agg(item_id ORDER BY rank) FROM animerec.recommend(1, 4, 'tap_stream'));
END
$$;
SELECT is(pg_temp.move_then_recommend(),
          (SELECT array_agg(item_id ORDER BY rank) FROM tap_all WHERE user_id = 1),
          'recommend in the same transaction, while a block is being scored');
SELECT results_eq($$FETCH 300 FROM tap_e$$,
                  $$SELECT user_id, rank, item_id FROM tap_all WHERE n BETWEEN 226 AND 525 ORDER BY n$$,
                  'then the cursor''s next 300 rows, as without the pipeline');
ROLLBACK;
RESET animerec.threads;
SELECT is((SELECT array_agg(item_id ORDER BY rank) FROM animerec.recommend_all(3, 'tap_stream', '{1, 999999}')
           WHERE user_id = 999999),
          (SELECT array_agg(r.item_id ORDER BY r.rank) FROM animerec.recommend(999999, 3, 'tap_stream') r),
          'a requested user without rows gets the cold-start ranking');

-- at work_mem 64kB the 1,024 rows of a block of 256 users spill to a temporary
-- file: each row read back must live until the next (this crashed the server)
SET work_mem = '64kB';
SELECT is((SELECT count(*) FROM (SELECT user_id, rank, item_id FROM tap_all
                                 EXCEPT SELECT user_id, rank, item_id FROM animerec.recommend_all(4, 'tap_stream')) d),
          0::bigint, 'with work_mem 64kB (the rows spill to disk) the answer is the same');
RESET work_mem;

-- the item gates table of a model with 4H = 512: 151 items x 512 floats =
-- 309 kB, more than work_mem 64kB times hash_mem_multiplier 2 allows, less
-- than 4MB times 2; the scan builds it once its blocks have run 151 history steps
CALL animerec.train('tap_stream_g', 'tap_stream.demo_ratings', dim => 8, hidden => 128, layers => 1,
                    maxlen => 10, epochs => 1, seed => 5);
SET work_mem = '64kB';
CREATE TEMP TABLE tap_nogates AS SELECT * FROM animerec.recommend_all(4, 'tap_stream_g');
SET work_mem = '4MB';
SELECT is((SELECT count(*) FROM tap_nogates n
           FULL JOIN animerec.recommend_all(4, 'tap_stream_g') g USING (user_id, rank)
           WHERE g.item_id IS DISTINCT FROM n.item_id OR NOT abs(g.score - n.score) <= 1e-5),
          0::bigint, 'with the item gates table (work_mem 4MB) the answer is the one without it (64kB)');
RESET work_mem;

-- inlined: the rows come through a ProjectSet, not a Function Scan that would run to completion
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    res text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        res := res || line || E'\n';
    END LOOP;
    RETURN res;
END $$;
SELECT ok(pg_temp.plan_of($$SELECT * FROM animerec.recommend_all(10, 'tap_stream') LIMIT 10$$) ~ 'ProjectSet'
          AND pg_temp.plan_of($$SELECT * FROM animerec.recommend_all(10, 'tap_stream') LIMIT 10$$) !~ 'Function Scan',
          'recommend_all is inlined: its rows stream through a ProjectSet');

-- a LIMIT stops the work: the ratings are read only as far as the first block needs.
-- rows_read(): rows of the ratings table read so far (statistics of the statements
-- before the last pg_stat_force_next_flush() call's transaction)
CREATE FUNCTION pg_temp.rows_read() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_stat_clear_snapshot();
    RETURN (SELECT coalesce(idx_tup_fetch, 0) + seq_tup_read FROM pg_stat_user_tables
             WHERE relid = 'tap_stream.demo_ratings'::regclass);
END $$;
\o /dev/null
SELECT pg_stat_force_next_flush();
SELECT pg_temp.rows_read() AS read_before \gset
SELECT count(*) FROM (SELECT * FROM animerec.recommend_all(4, 'tap_stream') LIMIT 10) l;
SELECT pg_stat_force_next_flush();
SELECT pg_temp.rows_read() AS read_limit \gset
SELECT count(*) FROM animerec.recommend_all(4, 'tap_stream');
SELECT pg_stat_force_next_flush();
\o
SELECT cmp_ok((:read_limit - :read_before)::bigint, '<', (SELECT count(*) / 4 FROM tap_stream.demo_ratings),
              'LIMIT 10 reads less than a quarter of the ratings');
SELECT cmp_ok(pg_temp.rows_read() - :read_limit, '>=', (SELECT count(*) FROM tap_stream.demo_ratings),
              'while the whole answer reads them all (the counter counts)');

-- WITH HOLD cursors (psqlODBC's declare/fetch): COMMIT runs them to their end and keeps
-- their rows, whatever order it takes the portals in (it depends on the cursors' names)
CREATE TEMP TABLE tap_hold_log (name text);
CREATE FUNCTION pg_temp.held_rest_mismatches(name text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    c refcursor := name;
    r record;
    pos bigint := 10;
    bad bigint := 0;
BEGIN
    LOOP
        FETCH c INTO r;
        EXIT WHEN NOT FOUND;
        pos := pos + 1;
        bad := bad + (SELECT count(*) FROM tap_all a WHERE a.n = pos
                      AND (a.user_id, a.rank, a.item_id) IS DISTINCT FROM (r.user_id, r.rank, r.item_id));
    END LOOP;
    CLOSE c;
    RETURN bad + abs(pos - (SELECT count(*) FROM tap_all));
END $$;
\o /dev/null
SELECT s FROM unnest(ARRAY['h', 'c1', 'cur', 'recs', 'x', 'y', 'z', 'q']) AS c(name),
     LATERAL unnest(ARRAY['BEGIN', format('INSERT INTO tap_hold_log VALUES (%L)', name),
                          format('DECLARE %I CURSOR WITH HOLD FOR SELECT user_id, rank, item_id FROM animerec.recommend_all(4, %L)',
                                 name, 'tap_stream'),
                          format('FETCH 10 FROM %I', name), 'COMMIT']) AS s \gexec
\o
SELECT is((SELECT count(*) FROM tap_hold_log), 8::bigint,
          'transactions that read a WITH HOLD recommend_all cursor commit (8 cursor names)');
SELECT is((SELECT sum(pg_temp.held_rest_mismatches(name)) FROM tap_hold_log), 0::numeric,
          'after the commit each held cursor goes on with the rest of the answer');
BEGIN;
DECLARE tap_h CURSOR WITH HOLD FOR SELECT * FROM animerec.recommend_all(4, 'tap_stream');
\o /dev/null
FETCH 10 FROM tap_h;
\o
CLOSE tap_h;
COMMIT;
SELECT is((SELECT count(*) FROM pg_backend_memory_contexts WHERE name = 'PortalHoldContext'), 0::bigint,
          'no reading of the histories is left held after the cursors closed (one before its commit)');
-- the first rows fetched in a savepoint that is rolled back: a clear error, not a crash
BEGIN;
DECLARE tap_s CURSOR FOR SELECT user_id, rank, item_id FROM animerec.recommend_all(4, 'tap_stream');
SAVEPOINT before_fetch;
\o /dev/null
FETCH 40 FROM tap_s;
\o
ROLLBACK TO SAVEPOINT before_fetch;
SELECT results_eq($$FETCH 1 FROM tap_s$$, $$SELECT user_id, rank, item_id FROM tap_all WHERE n = 41$$,
                  'after ROLLBACK TO SAVEPOINT the cursor still gives the rows of the block in hand');
SELECT throws_ok('MOVE ALL IN tap_s', '24000', 'recommend_all can no longer read the histories of this scan',
                 'past the block in hand, a cursor whose reading began in a rolled-back savepoint fails with 24000');
CLOSE tap_s;
COMMIT;

SELECT * FROM finish();
\o /dev/null
SELECT animerec.unload_model('tap_stream'), animerec.unload_model('tap_stream_g');
SELECT animerec.drop_model('tap_stream'), animerec.drop_model('tap_stream_g');
DELETE FROM animerec.model_owners WHERE name IN ('tap_stream', 'tap_stream_g');
\o
DROP SCHEMA tap_stream CASCADE;
