-- ---------------------------------------------------------------------------
-- Explanations (src/explain.c, src/nn/explain.c): "because you watched".
--
-- The contribution of a history item is the drop in the explained item's
-- log-probability (softmax over the whole catalogue) when that item is left
-- out of the window; exact, computed for every window item in one batch.
-- explain reads the user's history with the caller's own privileges.
-- ---------------------------------------------------------------------------

CREATE FUNCTION explain(user_id bigint, item_id bigint, model text DEFAULT NULL, n int DEFAULT 3)
    RETURNS TABLE (rank int, history_item_id bigint, contribution double precision, "position" int)
    AS 'MODULE_PATHNAME', 'animerec_explain'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 3;
COMMENT ON FUNCTION explain(bigint, bigint, text, int) IS
    'the up to n items of the user''s window (the newest maxlen known items, as recommend reads them, but always with the caller''s own privileges, never through a serving grant) that most raised the log-probability of item_id, largest first; contribution = log p(item | window) - log p(item | window without that item), only positive ones; position 1 is the newest item';

CREATE FUNCTION explain_for_history(item_ids bigint[], ratings real[], item_id bigint,
                                    model text DEFAULT NULL, n int DEFAULT 3)
    RETURNS TABLE (rank int, history_item_id bigint, contribution double precision, "position" int)
    AS 'MODULE_PATHNAME', 'animerec_explain_for_history'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 3;
COMMENT ON FUNCTION explain_for_history(bigint[], real[], bigint, text, int) IS
    'explain for an anonymous chronological history read as recommend_for_history reads it: the up to n history items that most raised the log-probability of item_id, with their contributions';
