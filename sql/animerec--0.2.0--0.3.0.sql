-- animerec 0.2.0 -> 0.3.0 (ALTER EXTENSION animerec UPDATE).  Mirrors the
-- changes to sql/install/*.sql since 0.2.0; scripts/test compares an updated
-- installation with a fresh one (test/upgrade.sh).
\echo Use "ALTER EXTENSION animerec UPDATE TO '0.3.0'" to load this file. \quit

-- ---- one history rule for the serving paths (issue 14) ----------------------
-- recommend feeds the newest maxlen KNOWN items, as recommend_for_history and
-- recommend_all do (it took the newest maxlen rows, then dropped unknown items)
COMMENT ON FUNCTION recommend(bigint, int, text, boolean) IS
    'top k items for a user of the model''s ratings table: the newest maxlen known items feed the LSTM (unknown ids are skipped), every item the user rated is excluded unless exclude_seen is false; users without known items get the items with the largest learned bias (popularity); NULL user: no rows';
COMMENT ON AGGREGATE user_embedding(bigint, real) IS
    'user embedding (real[] of the model''s dimension) of the rows in ORDER BY order, using the default model; unlike recommend() it feeds every known item, not only the newest maxlen';
COMMENT ON AGGREGATE user_embedding(bigint, real, text) IS
    'user embedding (real[] of the model''s dimension) of the rows in ORDER BY order for the given model; unlike recommend() it feeds every known item, not only the newest maxlen';
