-- ---------------------------------------------------------------------------
-- Serving (src/shmem.c, src/serve.c, src/embedding_agg.c).
--
-- Every function reads the registry and the ratings table through SPI with the
-- caller's privileges (a serving grantee's with the model owner's, see
-- 25_serving_acl.sql), so they are STABLE and PARALLEL RESTRICTED (they pin
-- models in this backend's cache and must run in the leader).  A NULL model
-- means animerec.model, or the database's default model.
--
-- The recommend* functions also return probability, the item's share of the
-- full softmax over the model's catalogue (comparable across users), and
-- personalized, false when no known history item was used (the answer is the
-- popularity prior).
-- ---------------------------------------------------------------------------

CREATE FUNCTION load_model(name text) RETURNS int
    AS 'MODULE_PATHNAME', 'animerec_load_model'
    LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION load_model(text) IS
    'load the active version of a model into the model cache now (shared memory when preloaded), validating its checksum; returns the version';

CREATE FUNCTION unload_model(name text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'animerec_unload_model'
    LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION unload_model(text) IS
    'drop a model from the model cache (calls still running finish on it); true when it was loaded; affects every connection, so only superusers and roles granted EXECUTE may call it';
REVOKE ALL ON FUNCTION unload_model(text) FROM PUBLIC;

CREATE FUNCTION _loaded_models_info(OUT name text, OUT version int, OUT bytes bigint,
                                   OUT loaded_at timestamptz, OUT calls bigint, OUT shared boolean)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'animerec_loaded_models'
    LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION _loaded_models_info() IS
    'the model versions in the model cache; backs the view animerec.loaded_models';

-- (the function lists only the models the caller may see: src/serving_acl.c, serving_may_list)
CREATE VIEW loaded_models AS
SELECT l.* FROM _loaded_models_info() l;
COMMENT ON VIEW loaded_models IS
    'model versions of this database in the model cache that the current user may serve or manages (all of them for members of animerec_admin, even those whose registry row is gone): bytes of weights plus item table, load time, calls since loading; shared is false when animerec is not preloaded (this connection''s own cache)';

CREATE FUNCTION recommend(user_id bigint, k int DEFAULT 10, model text DEFAULT NULL,
                          exclude_seen boolean DEFAULT true)
    RETURNS TABLE (rank int, item_id bigint, score real, probability real, personalized boolean)
    AS 'MODULE_PATHNAME', 'animerec_recommend'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION recommend(bigint, int, text, boolean) IS
    'top k items for a user of the model''s ratings table: the newest maxlen known items feed the LSTM (unknown ids are skipped), every item the user rated is excluded unless exclude_seen is false; users without known items get the items with the largest learned bias (popularity, personalized false); probability is the item''s share of the softmax over the whole catalogue; NULL user: no rows';

CREATE FUNCTION recommend_for_history(item_ids bigint[], ratings real[] DEFAULT NULL,
                                      k int DEFAULT 10, model text DEFAULT NULL)
    RETURNS TABLE (rank int, item_id bigint, score real, probability real, personalized boolean)
    AS 'MODULE_PATHNAME', 'animerec_recommend_for_history'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION recommend_for_history(bigint[], real[], int, text) IS
    'top k items after an anonymous chronological history: unknown ids are skipped, the last maxlen known items feed the LSTM, ratings are clamped to the trained range, the given items are excluded; probability and personalized as in recommend';

CREATE FUNCTION recommend_for_embedding(embedding real[], k int DEFAULT 10, model text DEFAULT NULL)
    RETURNS TABLE (rank int, item_id bigint, score real, probability real, personalized boolean)
    AS 'MODULE_PATHNAME', 'animerec_recommend_for_embedding'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION recommend_for_embedding(real[], int, text) IS
    'top k items for a user embedding of the model''s dimension (from animerec.user_embedding), nothing excluded; probability as in recommend, personalized false for the zero embedding';

CREATE FUNCTION similar_items(item_id bigint, k int DEFAULT 10, model text DEFAULT NULL)
    RETURNS TABLE (rank int, item_id bigint, score real)
    AS 'MODULE_PATHNAME', 'animerec_similar_items'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION similar_items(bigint, int, text) IS
    'the k items most similar to an item: cosine similarity of the output representations (item embedding plus mean tag embedding, bias left out)';

CREATE FUNCTION _user_embedding_sfunc(internal, bigint, real)
    RETURNS internal
    AS 'MODULE_PATHNAME', 'animerec_user_embedding_sfunc'
    LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION _user_embedding_sfunc(internal, bigint, real) IS
    'transition function of user_embedding(item_id, rating): one LSTM step';

CREATE FUNCTION _user_embedding_sfunc(internal, bigint, real, text)
    RETURNS internal
    AS 'MODULE_PATHNAME', 'animerec_user_embedding_sfunc'
    LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION _user_embedding_sfunc(internal, bigint, real, text) IS
    'transition function of user_embedding(item_id, rating, model): one LSTM step';

CREATE FUNCTION _user_embedding_final(internal)
    RETURNS real[]
    AS 'MODULE_PATHNAME', 'animerec_user_embedding_final'
    LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION _user_embedding_final(internal) IS
    'final function of user_embedding: the projected top hidden state';

CREATE AGGREGATE user_embedding(item_id bigint, rating real) (
    SFUNC = _user_embedding_sfunc,
    STYPE = internal,
    FINALFUNC = _user_embedding_final,
    PARALLEL = RESTRICTED
);
COMMENT ON AGGREGATE user_embedding(bigint, real) IS
    'user embedding (real[] of the model''s dimension) of the rows in ORDER BY order, using the default model; unlike recommend() it feeds every known item, not only the newest maxlen';

CREATE AGGREGATE user_embedding(item_id bigint, rating real, model text) (
    SFUNC = _user_embedding_sfunc,
    STYPE = internal,
    FINALFUNC = _user_embedding_final,
    PARALLEL = RESTRICTED
);
COMMENT ON AGGREGATE user_embedding(bigint, real, text) IS
    'user embedding (real[] of the model''s dimension) of the rows in ORDER BY order for the given model; unlike recommend() it feeds every known item, not only the newest maxlen';
