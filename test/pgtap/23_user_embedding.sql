-- pgTAP: train(user_embedding => true) learns a vector per user of the data.
-- The model is written as weight format version 2 (version 1 without it);
-- recommend, recommend_all, explain and evaluate use a trained user's vector;
-- a user the training did not see gets the zero vector, so recommend for
-- them equals recommend_for_history of the same rows.  Two users with the
-- same rows are the check: one (5) was in the training data, the other
-- (1005) was added after it.
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS animerec;
SET client_min_messages = warning;
SET animerec.progress_notices = off;
SET animerec.threads = 1;
BEGIN;
SELECT plan(10);

CREATE TABLE tap_ue AS
SELECT u AS user_id, 1 + ((u * 37) % 60 + k) % 60 AS item_id, 1 + (u + k) % 5 AS rating, k AS rated_at
FROM generate_series(1, 120) u, generate_series(0, 9) k;
CREATE INDEX ON tap_ue (user_id, rated_at);
CALL animerec.train('tap_ue', 'tap_ue', dim => 8, hidden => 8, layers => 1, maxlen => 8,
                    batch_size => 16, learning_rate => 0.01, epochs => 3, patience => 0, seed => 3,
                    user_embedding => true);
CALL animerec.train('tap_ue_none', 'tap_ue', dim => 8, hidden => 8, layers => 1, maxlen => 8,
                    batch_size => 16, learning_rate => 0.01, epochs => 1, patience => 0, seed => 3);
INSERT INTO tap_ue SELECT 1005, item_id, rating, rated_at FROM tap_ue WHERE user_id = 5;

SELECT is((SELECT hyperparams->>'user_embedding' || ' ' || get_byte(weights, 8)
             FROM animerec.models WHERE name = 'tap_ue' AND active),
          'true 2', 'the run records user_embedding and writes weight format version 2');
SELECT is((SELECT hyperparams->>'user_embedding' || ' ' || get_byte(weights, 8)
             FROM animerec.models WHERE name = 'tap_ue_none' AND active),
          'false 1', 'without it the weights keep format version 1');

-- (item_id, score) of recommend for a user, and of recommend_for_history of user 5's rows
CREATE FUNCTION pg_temp.rec(uid bigint) RETURNS real[] LANGUAGE sql AS $$
SELECT array_agg(score ORDER BY item_id) FROM animerec.recommend(uid, 60, 'tap_ue')
$$;
CREATE FUNCTION pg_temp.rec_history() RETURNS real[] LANGUAGE sql AS $$
SELECT array_agg(score ORDER BY item_id) FROM animerec.recommend_for_history(
    (SELECT array_agg(item_id::bigint ORDER BY rated_at) FROM tap_ue WHERE user_id = 5),
    (SELECT array_agg(rating::real ORDER BY rated_at) FROM tap_ue WHERE user_id = 5), 60, 'tap_ue')
$$;
SELECT is(pg_temp.rec(1005), pg_temp.rec_history(),
          'a user the training did not see gets the zero vector: recommend equals recommend_for_history');
SELECT ok((SELECT max(abs(a - b)) FROM unnest(pg_temp.rec(5), pg_temp.rec(1005)) s(a, b)) > 1e-4,
          'a trained user''s vector changes the scores of the same rows');
SELECT is((SELECT bool_and(personalized) FROM animerec.recommend(1005, 3, 'tap_ue')), true,
          'an unseen user with known items is still personalized by the history');

-- the batch path reads the same user rows as recommend
SELECT ok((SELECT count(*) = 20 AND max(abs(a.score - r.score)) < 1e-4 AND bool_and(a.item_id = r.item_id)
             FROM animerec.recommend_all(10, 'tap_ue', users => ARRAY[5, 1005]::bigint[]) a
             JOIN LATERAL animerec.recommend(a.user_id, 10, 'tap_ue') r ON r.rank = a.rank),
          'recommend_all gives each user, seen or not, what recommend gives');
SELECT ok((SELECT count(*) = 120 AND max(abs(a.score - r.score)) < 1e-4 AND bool_and(a.item_id = r.item_id)
             FROM animerec.recommend_all(1, 'tap_ue') a
             JOIN LATERAL animerec.recommend(a.user_id, 1, 'tap_ue') r ON true
            WHERE a.user_id <> 1005),
          'recommend_all over every user agrees with recommend');

-- explain reads the user's vector too (of the item recommended first to user 5)
SELECT item_id AS top FROM animerec.recommend(5, 1, 'tap_ue') \gset
SELECT isnt((SELECT array_agg(round(contribution::numeric, 6) ORDER BY position)
               FROM animerec.explain(5, :top, 'tap_ue', 8)),
            (SELECT array_agg(round(contribution::numeric, 6) ORDER BY position)
               FROM animerec.explain(1005, :top, 'tap_ue', 8)),
            'explain uses a trained user''s vector');
SELECT is((SELECT array_agg(round(contribution::numeric, 6) ORDER BY position)
             FROM animerec.explain(1005, :top, 'tap_ue', 8)),
          (SELECT array_agg(round(contribution::numeric, 6) ORDER BY position)
             FROM animerec.explain_for_history(
                 (SELECT array_agg(item_id::bigint ORDER BY rated_at) FROM tap_ue WHERE user_id = 5),
                 (SELECT array_agg(rating::real ORDER BY rated_at) FROM tap_ue WHERE user_id = 5),
                 :top, 'tap_ue', 8)),
          'explain for an unseen user equals explain_for_history of the same rows');

-- evaluate ranks with the users' vectors, as training's test did
DELETE FROM tap_ue WHERE user_id = 1005;
SELECT ok((SELECT abs(e.ndcg - (m.metrics->>'test_ndcg@10')::float8) < 1e-6 AND e.users = 120
             FROM animerec.evaluate('tap_ue') e, animerec.models m
            WHERE m.name = 'tap_ue' AND m.active),
          'evaluate() gives the test NDCG@10 the training recorded');

SELECT * FROM finish();
ROLLBACK;
