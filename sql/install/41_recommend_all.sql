-- ---------------------------------------------------------------------------
-- The batch path (src/recommend_all.c): recommend_all streams its rows one
-- block of users at a time (8, then twice as many each time up to 256; 256
-- from the start for given users).  A set-returning function in FROM is run
-- to completion before its first row is used, so recommend_all is a SQL
-- function calling _recommend_all_rows in
-- a select list: the planner inlines it (hence no SET clause: every name in
-- its body is qualified), and LIMIT or a closed cursor stops the work after
-- the block it needs.
-- ---------------------------------------------------------------------------

CREATE FUNCTION _recommend_all_rows(k int, model text, users bigint[],
                                    OUT user_id bigint, OUT rank int, OUT item_id bigint, OUT score real,
                                    OUT probability real, OUT personalized boolean, OUT model_version int)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'animerec_recommend_all'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 100000;
COMMENT ON FUNCTION _recommend_all_rows(int, text, bigint[]) IS
    'internal: the rows of recommend_all, one block of users scored at a time (value-per-call): 8 users, then twice as many each time up to 256';

CREATE FUNCTION recommend_all(k int DEFAULT 10, model text DEFAULT NULL, users bigint[] DEFAULT NULL)
    RETURNS TABLE (user_id bigint, rank int, item_id bigint, score real, probability real,
                   personalized boolean, model_version int)
    LANGUAGE sql STABLE PARALLEL RESTRICTED ROWS 100000
AS $$
SELECT (s.r).user_id, (s.r).rank, (s.r).item_id, (s.r).score, (s.r).probability,
       (s.r).personalized, (s.r).model_version
  FROM (SELECT animerec._recommend_all_rows(k, model, users) AS r OFFSET 0) s
$$;
COMMENT ON FUNCTION recommend_all(int, text, bigint[]) IS
    'top k for every user of the model''s ratings table, or for the given users (those without rows get the popularity ranking), in ascending user order, with probability and personalized as in recommend and the model version that answered; a serving grantee reads the histories with the model owner''s rights; reads all histories in one query and scores a block of users per matrix product (8, then twice as many each time up to 256; for given users 256 from the start), streaming: the first rows come after the first block and LIMIT or closing a cursor stops the work';
