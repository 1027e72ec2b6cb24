-- ---------------------------------------------------------------------------
-- User tags from text (docs/resume-and-user-tags.md): each user's k
-- terms of highest TF-IDF over the text written by or about the user, as the
-- seed model's author built its user tags; the result is a user_tags table
-- for train(user_tags => ...).
-- ---------------------------------------------------------------------------

-- _check_column(source, col, arg, types, types_text, hint): error unless
-- column col of source exists (42703, with hint) and is of one of types (42804).
CREATE FUNCTION _check_column(source regclass, col name, arg text, types regtype[], types_text text,
                              hint text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    col_type regtype;
BEGIN
    SELECT a.atttypid::regtype INTO col_type FROM pg_attribute a
     WHERE a.attrelid = source AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of relation % does not exist', col, source
            USING ERRCODE = 'undefined_column', HINT = hint;
    ELSIF col_type <> ALL (types) THEN
        RAISE EXCEPTION '% "%" of relation % must be %, not %', arg, col, source, types_text, col_type
            USING ERRCODE = 'datatype_mismatch', HINT = hint;
    END IF;
END
$$;
COMMENT ON FUNCTION _check_column(regclass, name, text, regtype[], text, text) IS
    'internal: error unless column COL of SOURCE exists (42703) and is of one of TYPES (42804); ARG names the argument, HINT helps';

-- user_tags_tfidf(source, user_col, text_col, k, config): PostgreSQL's parser
-- and dictionaries (to_tsvector(config, text)) give the terms; a user's
-- document is all their rows.  Weights are scikit-learn's TfidfVectorizer
-- defaults: tf = occurrences of the term in the user's rows, idf = ln((1 + N)
-- / (1 + df)) + 1 with N users having text and df users using the term, then
-- each user's vector scaled to unit length.  Ties (equal real weights) go to
-- the term first in byte order.
CREATE FUNCTION user_tags_tfidf(source regclass, user_col name, text_col name, k int DEFAULT 15,
                                config regconfig DEFAULT 'english')
RETURNS TABLE (user_id bigint, tag text, weight real)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF source IS NULL OR user_col IS NULL OR text_col IS NULL OR k IS NULL OR config IS NULL THEN
        RAISE EXCEPTION 'source, user_col, text_col, k and config must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF k < 1 OR k > 10000 THEN
        RAISE EXCEPTION 'k must be between 1 and 10000, not %', k
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM animerec._check_column(source, user_col, 'user_col', '{smallint,integer,bigint}',
                                   'smallint, integer or bigint',
                                   'user_col names the column of user ids (smallint, int or bigint).');
    PERFORM animerec._check_column(source, text_col, 'text_col', '{text,varchar,char}',
                                   'text, varchar or char',
                                   'text_col names the column of text written by or about the user; cast other types in a view.');
    RETURN QUERY EXECUTE format($q$
        WITH docs AS (
            SELECT s.%1$I::bigint AS u, to_tsvector($1, s.%2$I::text) AS v
              FROM %3$s s
             WHERE s.%1$I IS NOT NULL AND s.%2$I IS NOT NULL),
        n_users AS (SELECT count(DISTINCT d.u)::float8 AS n FROM docs d),
        tf AS (
            SELECT d.u, t.lexeme, sum(coalesce(array_length(t.positions, 1), 1))::float8 AS tf
              FROM docs d, unnest(d.v) t
             GROUP BY d.u, t.lexeme),
        df AS (SELECT tf.lexeme, count(*)::float8 AS df FROM tf GROUP BY tf.lexeme),
        w AS (
            SELECT tf.u, tf.lexeme, tf.tf * (ln((1 + n_users.n) / (1 + df.df)) + 1) AS w
              FROM tf JOIN df USING (lexeme), n_users),
        normed AS (
            SELECT w.u, w.lexeme, (w.w / sqrt(sum(w.w * w.w) OVER (PARTITION BY w.u)))::real AS weight
              FROM w),
        ranked AS (
            SELECT normed.*, row_number() OVER (PARTITION BY normed.u
                                                ORDER BY normed.weight DESC, normed.lexeme COLLATE "C") AS r
              FROM normed)
        SELECT ranked.u, ranked.lexeme, ranked.weight FROM ranked WHERE ranked.r <= $2
         ORDER BY ranked.u, ranked.r$q$, user_col, text_col, source)
    USING config, k;
END
$$;
COMMENT ON FUNCTION user_tags_tfidf(regclass, name, name, int, regconfig) IS
$$Each user's K (15) terms of highest TF-IDF over the text TEXT_COL of the rows of SOURCE with user id
USER_COL (a user's rows form one document; rows with a NULL user or text are skipped). Terms are the
lexemes of to_tsvector(CONFIG, text) (CONFIG 'english': stemmed, without stop words). Weight: scikit-learn's
TfidfVectorizer defaults, occurrences in the user's text times ln((1 + N) / (1 + df)) + 1 (N users with
text, df of them using the term), each user's weights scaled to unit length; ties (equal weights) go to
the term first in byte order; rows ordered by user, then rank. A table made of the result is a
train(user_tags => ...) table. Reads SOURCE with the caller's privileges.$$;
