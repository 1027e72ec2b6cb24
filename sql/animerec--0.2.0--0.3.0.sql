-- animerec 0.2.0 -> 0.3.0 (ALTER EXTENSION animerec UPDATE).  Mirrors the
-- changes to sql/install/*.sql since 0.2.0; scripts/test compares an updated
-- installation with a fresh one (test/upgrade.sh).
\echo Use "ALTER EXTENSION animerec UPDATE TO '0.3.0'" to load this file. \quit

-- ---- Internal helpers get the leading underscore of animerec's internal
-- functions (issue 14): the set-returning functions behind the views
-- training_progress and loaded_models, and the transition and final functions
-- of the aggregate user_embedding.  The aggregates and views refer to the
-- functions by OID and follow the rename; the views are defined again so that
-- their range-table alias is the new name too, as in a fresh install.
ALTER FUNCTION training_progress_rows() RENAME TO _training_progress_rows;
ALTER FUNCTION loaded_models_info() RENAME TO _loaded_models_info;
ALTER FUNCTION user_embedding_sfunc(internal, bigint, real) RENAME TO _user_embedding_sfunc;
ALTER FUNCTION user_embedding_sfunc(internal, bigint, real, text) RENAME TO _user_embedding_sfunc;
ALTER FUNCTION user_embedding_final(internal) RENAME TO _user_embedding_final;
CREATE OR REPLACE VIEW training_progress AS SELECT * FROM _training_progress_rows();
CREATE OR REPLACE VIEW loaded_models AS SELECT * FROM _loaded_models_info();

-- ---- The documentation moved from README into docs/ (issue 14): a comment that
-- pointed to README's "Demo data" points to docs/data.md.
COMMENT ON FUNCTION generate_demo_data(int, int, int, name) IS
    'create tables demo_items(item_id, name, tags) and demo_ratings(user_id, item_id, rating, rated_at) in schema with a synthetic anime-like data set (see docs/data.md, "Demo data")';
