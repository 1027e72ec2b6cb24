-- pgTAP: explanations (explain, explain_for_history; docs/bi-tables.md).  A small
-- seeded model trained on the demo data's planted sequels explains season 2
-- by season 1; contributions equal log-probabilities recomputed in SQL from
-- user_embedding + recommend_for_embedding; explain reads the history with the
-- caller's privileges, even for a serving grantee.  train commits, so this file cleans up after itself.
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS animerec;
SET client_min_messages = warning;
SET animerec.progress_notices = off;
SELECT plan(16);

DROP SCHEMA IF EXISTS tap_explain CASCADE;
DROP ROLE IF EXISTS tap_exp_team, tap_exp_fan, tap_exp_stranger, tap_exp_dashboard;
CREATE SCHEMA tap_explain;
\o /dev/null
SELECT * FROM animerec.generate_demo_data(600, 200, 1, 'tap_explain');
\o
CALL animerec.train('tap_explain', 'tap_explain.demo_ratings', items => 'tap_explain.demo_items',
                    dim => 16, hidden => 32, layers => 1, maxlen => 20, batch_size => 64,
                    learning_rate => 0.01, epochs => 4, patience => 4, seed => 7);

-- users whose newest item is season 1 of a series whose season 2 they have not seen
CREATE TEMP TABLE tap_exp_sequel AS
SELECT r.user_id, r.item_id AS season1, s2.item_id AS season2
FROM (SELECT DISTINCT ON (user_id) user_id, item_id FROM tap_explain.demo_ratings
      ORDER BY user_id, rated_at DESC, item_id DESC) r
JOIN tap_explain.demo_items i1 ON i1.item_id = r.item_id AND i1.name NOT LIKE '% Season %'
JOIN tap_explain.demo_items s2 ON s2.item_id = r.item_id + 1 AND s2.name = i1.name || ' Season 2'
WHERE NOT EXISTS (SELECT 1 FROM tap_explain.demo_ratings x
                  WHERE x.user_id = r.user_id AND x.item_id = s2.item_id);
CREATE TEMP TABLE tap_exp_first AS
SELECT c.*, e.history_item_id, e.contribution, e."position"
FROM tap_exp_sequel c
LEFT JOIN LATERAL animerec.explain(c.user_id, c.season2, 'tap_explain') e ON e.rank = 1;
SELECT cmp_ok((SELECT count(*) FROM tap_exp_sequel), '>=', 50::bigint,
              'the demo data has users whose newest item is a season 1 with an unseen season 2');
SELECT is((SELECT count(*) FILTER (WHERE history_item_id = season1) FROM tap_exp_first),
          (SELECT count(*) FROM tap_exp_sequel),
          'for every one of them the explanation of season 2 names season 1 first');
SELECT is((SELECT count(*) FILTER (WHERE "position" = 1 AND contribution > 0) FROM tap_exp_first),
          (SELECT count(*) FROM tap_exp_sequel),
          'season 1 is the newest item (position 1), with a positive contribution');

-- explain_for_history over the same window gives the same rows
SELECT min(user_id) AS exp_user, min(season2) FILTER (WHERE user_id = (SELECT min(user_id) FROM tap_exp_sequel)) AS exp_item
FROM tap_exp_sequel \gset
CREATE TEMP TABLE tap_exp_hist AS
SELECT array_agg(item_id::bigint ORDER BY rated_at, item_id) AS items, array_agg(rating::real ORDER BY rated_at, item_id) AS ratings
FROM tap_explain.demo_ratings WHERE user_id = :exp_user;
SELECT results_eq(
    format($$SELECT rank, history_item_id, round(contribution::numeric, 5), "position"
             FROM animerec.explain(%s, %s, 'tap_explain', 5)$$, :exp_user, :exp_item),
    format($$SELECT rank, history_item_id, round(contribution::numeric, 5), "position"
             FROM animerec.explain_for_history(%L, %L, %s, 'tap_explain', 5)$$,
           (SELECT items FROM tap_exp_hist), (SELECT ratings FROM tap_exp_hist), :exp_item),
    'explain_for_history over the user''s history equals explain');
SELECT is((SELECT count(*) FROM animerec.explain(:exp_user, :exp_item, 'tap_explain', 1)), 1::bigint,
          'n limits the rows');
SELECT is((SELECT array_agg(rank ORDER BY rank) = array_agg(rank ORDER BY contribution DESC)
           FROM animerec.explain(:exp_user, :exp_item, 'tap_explain', 10)), true,
          'ranks follow the contributions, largest first');

-- a contribution is the drop in log p(item) when the item is left out, recomputed in SQL
CREATE FUNCTION pg_temp.logp(items bigint[], target bigint) RETURNS double precision LANGUAGE sql AS $$
    WITH e AS (SELECT animerec.user_embedding(i, NULL::real, 'tap_explain' ORDER BY o) AS u
               FROM unnest(items) WITH ORDINALITY x(i, o)),
         s AS (SELECT r.item_id, r.score::float8 AS score
               FROM e, animerec.recommend_for_embedding(e.u, 1000, 'tap_explain') r),
         m AS (SELECT max(score) AS mx FROM s)
    SELECT (SELECT score FROM s WHERE item_id = target) - (mx + ln(sum(exp(score - mx))))
    FROM s, m GROUP BY mx $$;
CREATE TEMP TABLE tap_exp_short AS
SELECT items[array_length(items, 1) - 4:] AS items FROM tap_exp_hist;
CREATE TEMP TABLE tap_exp_cmp AS
SELECT e.history_item_id, e.contribution,
       pg_temp.logp(s.items, :exp_item)
       - pg_temp.logp(s.items[:6 - e."position" - 1] || s.items[6 - e."position" + 1:], :exp_item) AS recomputed
FROM tap_exp_short s, animerec.explain_for_history(s.items, NULL, :exp_item, 'tap_explain', 5) e;
SELECT cmp_ok((SELECT count(*) FROM tap_exp_cmp), '>=', 1::bigint, 'a five-item history has explaining items');
SELECT ok((SELECT max(abs(contribution - recomputed)) FROM tap_exp_cmp) < 1e-3,
          'each contribution equals log p(item | history) - log p(item | history without it) recomputed in SQL');

-- privileges: explain reads the history as the caller; explain_for_history reads no table
CREATE ROLE tap_exp_team;
CREATE ROLE tap_exp_fan IN ROLE tap_exp_team;
CREATE ROLE tap_exp_stranger IN ROLE tap_exp_team;
UPDATE animerec.model_owners SET owner = 'tap_exp_team' WHERE name = 'tap_explain';
GRANT USAGE ON SCHEMA tap_explain TO tap_exp_team;
GRANT SELECT ON tap_explain.demo_ratings TO tap_exp_fan;
CREATE FUNCTION pg_temp.as_role(r name, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    res text;
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', r);
    BEGIN
        EXECUTE q INTO res;
    EXCEPTION WHEN OTHERS THEN
        res := SQLSTATE || ': ' || SQLERRM;
    END;
    RESET ROLE;
    RETURN res;
END
$$;
SELECT is(pg_temp.as_role('tap_exp_fan', format($$SELECT history_item_id::text FROM animerec.explain(%s, %s, 'tap_explain') WHERE rank = 1$$, :exp_user, :exp_item)),
          (SELECT season1::text FROM tap_exp_sequel WHERE user_id = :exp_user),
          'a role that may read the ratings gets the explanation');
SELECT matches(pg_temp.as_role('tap_exp_stranger', format($$SELECT count(*) FROM animerec.explain(%s, %s, 'tap_explain')$$, :exp_user, :exp_item)),
               '^42501: permission denied for table demo_ratings',
               'a role without SELECT on the ratings is refused: explain reads with the caller''s privileges');
SELECT is(pg_temp.as_role('tap_exp_stranger', format($$SELECT history_item_id::text FROM animerec.explain_for_history(%L, NULL, %s, 'tap_explain') WHERE rank = 1$$,
                                                     (SELECT items FROM tap_exp_hist), :exp_item)),
          (SELECT season1::text FROM tap_exp_sequel WHERE user_id = :exp_user),
          'explain_for_history needs no table: the same role gets it for a history it passes');
-- a serving grant lends the owner's rights to recommend, never to explain (the
-- name goes to tap_exp_fan, which may read the ratings)
UPDATE animerec.model_owners SET owner = 'tap_exp_fan' WHERE name = 'tap_explain';
CREATE ROLE tap_exp_dashboard;
GRANT USAGE ON SCHEMA tap_explain TO tap_exp_dashboard;
SELECT animerec.grant_serving('tap_explain', 'tap_exp_dashboard') \g /dev/null
SELECT is(pg_temp.as_role('tap_exp_dashboard', format($$SELECT count(*)::text FROM animerec.recommend(%s, 5, 'tap_explain')$$, :exp_user)),
          '5', 'a serving grantee without SELECT on the ratings gets the user''s recommendations');
SELECT matches(pg_temp.as_role('tap_exp_dashboard', format($$SELECT count(*) FROM animerec.explain(%s, %s, 'tap_explain')$$, :exp_user, :exp_item)),
               '^42501: permission denied for table demo_ratings',
               'but not their explanation: explain reads the history with the caller''s own privileges');

-- arguments
SELECT throws_ok($$SELECT * FROM animerec.explain(1, 999999, 'tap_explain')$$, '22023',
                 'item 999999 is not in the catalogue of model "tap_explain"', 'an unknown item is an error');
SELECT throws_ok($$SELECT * FROM animerec.explain(1, 2, 'tap_explain', 0)$$, '22023',
                 'n must be at least 1, not 0', 'n below 1 is an error');
SELECT is((SELECT count(*) FROM animerec.explain(NULL, 2, 'tap_explain')), 0::bigint, 'a NULL user has no explanation');

SELECT * FROM finish();
\o /dev/null
SELECT animerec.unload_model('tap_explain');
SELECT animerec.drop_model('tap_explain');
DELETE FROM animerec.model_owners WHERE name = 'tap_explain';
\o
DROP SCHEMA tap_explain CASCADE;
DROP ROLE tap_exp_team, tap_exp_fan, tap_exp_stranger, tap_exp_dashboard;
