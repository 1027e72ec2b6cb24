-- animerec 0.2.0 -> 0.3.0 (ALTER EXTENSION animerec UPDATE).  Mirrors the
-- changes to sql/install/*.sql since 0.2.0; scripts/test compares an updated
-- installation with a fresh one (test/upgrade.sh).
\echo Use "ALTER EXTENSION animerec UPDATE TO '0.3.0'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Issue 12 (BI dashboards, part 2): explanations, sql/install/45_explain.sql.
-- ---------------------------------------------------------------------------
CREATE FUNCTION explain(user_id bigint, item_id bigint, model text DEFAULT NULL, n int DEFAULT 3)
    RETURNS TABLE (rank int, history_item_id bigint, contribution double precision, "position" int)
    AS 'MODULE_PATHNAME', 'animerec_explain'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 3
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION explain(bigint, bigint, text, int) IS
    'the up to n items of the user''s window (the newest maxlen rows, read with the caller''s privileges) that most raised the log-probability of item_id, largest first; contribution = log p(item | window) - log p(item | window without that item), only positive ones; position 1 is the newest item';

CREATE FUNCTION explain_for_history(item_ids bigint[], ratings real[], item_id bigint,
                                    model text DEFAULT NULL, n int DEFAULT 3)
    RETURNS TABLE (rank int, history_item_id bigint, contribution double precision, "position" int)
    AS 'MODULE_PATHNAME', 'animerec_explain_for_history'
    LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 3
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION explain_for_history(bigint[], real[], bigint, text, int) IS
    'explain for an anonymous chronological history read as recommend_for_history reads it: the up to n history items that most raised the log-probability of item_id, with their contributions';
