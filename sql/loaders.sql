-- load_anime() and load_movielens() on small files written here, with the
-- quirks of the real files: HTML entities, "Unknown" episodes, empty genres,
-- -1 ratings, CRLF line endings, quoted titles with commas, "(no genres
-- listed)", free-text tags, the ml-100k layout in latin-1; and the errors.
-- The files go to animerec_regress/ in the server's data directory (a
-- relative path for COPY and lo_export), written byte for byte by lo_export.
\set SHOW_CONTEXT never
COPY (SELECT 1 WHERE false) TO PROGRAM 'mkdir -p animerec_regress/ml-latest animerec_regress/ml-100k animerec_regress/ml-bad animerec_regress/empty';
CREATE PROCEDURE pg_temp.write_file(path text, content text, enc name DEFAULT 'UTF8')
LANGUAGE plpgsql AS $$
DECLARE
    lo oid := lo_from_bytea(0, convert_to(content, enc));
BEGIN
    PERFORM lo_export(lo, 'animerec_regress/' || path);
    PERFORM lo_unlink(lo);
END;
$$;

-- ---------------------------------------------------------------- anime
CALL pg_temp.write_file('anime.csv', $csv$anime_id,name,genre,type,episodes,rating,members
9969,Gintama&#039;,"Action, Comedy, Historical, Parody, Samurai, Sci-Fi, Shounen",TV,51,9.16,151266
9941,Tiger &amp; Bunny,"Action, Comedy, Mystery, Super Power",TV,25,8.12,104075
6,&quot;Bungaku Shoujo&quot; &lt;Movie&gt;,"Drama, Mystery",Movie,1,7.6,50000
21,One Piece,"Action, Adventure, Comedy, Drama, Fantasy, Shounen, Super Power",TV,Unknown,8.58,504862
7,Pokémon &#x27;Ünïcødé&#x27; &bogus; & more,,,Unknown,,120
$csv$);
CALL pg_temp.write_file('rating.csv', $csv$user_id,anime_id,rating
10,9969,9
10,21,-1
11,6,7
11,9941,10
$csv$);
CREATE SCHEMA anime_test;
SELECT * FROM animerec.load_anime('animerec_regress/anime.csv', 'animerec_regress/rating.csv', 'anime_test');
SELECT * FROM anime_test.anime ORDER BY anime_id;
SELECT * FROM anime_test.anime_ratings ORDER BY user_id, anime_id;
\d anime_test.anime
\d anime_test.anime_ratings

-- errors: target, missing file, wrong header, wrong file, privileges, NULLs
SELECT * FROM animerec.load_anime('animerec_regress/anime.csv', 'animerec_regress/rating.csv', 'anime_test');
SELECT * FROM animerec.load_anime('animerec_regress/anime.csv', 'animerec_regress/rating.csv', 'no_such_schema');
CREATE SCHEMA anime_err;
SELECT * FROM animerec.load_anime('animerec_regress/no_such.csv', 'animerec_regress/rating.csv', 'anime_err');
SELECT * FROM animerec.load_anime('animerec_regress/anime.csv', 'animerec_regress/no_such.csv', 'anime_err');
CALL pg_temp.write_file('anime_bad_header.csv', $csv$id,title,genre,type,episodes,rating,members
1,X,Action,TV,1,5,1
$csv$);
SELECT * FROM animerec.load_anime('animerec_regress/anime_bad_header.csv', 'animerec_regress/rating.csv', 'anime_err');
SELECT * FROM animerec.load_anime('animerec_regress/rating.csv', 'animerec_regress/rating.csv', 'anime_err');
SELECT * FROM animerec.load_anime('animerec_regress/anime.csv', 'animerec_regress/anime.csv', 'anime_err');
SELECT * FROM animerec.load_anime(NULL, 'animerec_regress/rating.csv', 'anime_err');
SELECT * FROM animerec.load_anime('animerec_regress/anime.csv', 'animerec_regress/rating.csv', NULL);
CREATE ROLE regress_animerec_loader;
GRANT USAGE ON SCHEMA animerec TO regress_animerec_loader;
GRANT USAGE, CREATE ON SCHEMA anime_err TO regress_animerec_loader;
SET ROLE regress_animerec_loader;
SELECT * FROM animerec.load_anime('animerec_regress/anime.csv', 'animerec_regress/rating.csv', 'anime_err');
RESET ROLE;
-- nothing was left behind by the failed calls
SELECT count(*) AS tables_in_anime_err FROM pg_tables WHERE schemaname = 'anime_err';
-- pg_read_server_files is enough
GRANT pg_read_server_files TO regress_animerec_loader;
SET ROLE regress_animerec_loader;
SELECT * FROM animerec.load_anime('animerec_regress/anime.csv', 'animerec_regress/rating.csv', 'anime_err');
RESET ROLE;
REVOKE pg_read_server_files FROM regress_animerec_loader;
REVOKE USAGE ON SCHEMA animerec FROM regress_animerec_loader;

-- ------------------------------------------------------ MovieLens, ml-latest
CALL pg_temp.write_file('ml-latest/ratings.csv', E'userId,movieId,rating,timestamp\r\n'
    '1,1,4.0,964982703\r\n1,2,3.5,964981247\r\n1,3,5.0,964983815\r\n2,1,0.5,1445714994\r\n');
CALL pg_temp.write_file('ml-latest/movies.csv', E'movieId,title,genres\r\n'
    '1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\r\n'
    '2,"American President, The (1995)",Comedy|Drama|Romance\r\n'
    '3,"Cité des enfants perdus, La ""City"" (1995)",(no genres listed)\r\n');
CALL pg_temp.write_file('ml-latest/tags.csv', E'userId,movieId,tag,timestamp\r\n'
    '2,1,funny,1445714994\r\n2,2,  Funny ,1445714995\r\n'
    '2,2,"Highly quotable, really",1445714996\r\n1,3,Dark,1445714997\r\n1,3, ,1445714998\r\n');
CREATE SCHEMA ml_latest;
SELECT * FROM animerec.load_movielens('animerec_regress/ml-latest', 'ml_latest');
SELECT movie_id, title, tags, title LIKE E'%\r%' AS has_cr FROM ml_latest.movies ORDER BY movie_id;
SELECT user_id, movie_id, rating, rated_at AT TIME ZONE 'UTC' AS rated_at_utc
  FROM ml_latest.movie_ratings ORDER BY user_id, rated_at;
SELECT * FROM ml_latest.movie_user_tags ORDER BY user_id, tag;
SELECT indexdef FROM pg_indexes WHERE schemaname = 'ml_latest' ORDER BY indexname;

-- tags.csv is optional
CALL pg_temp.write_file('ml-bad/ratings.csv', E'userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n');
CALL pg_temp.write_file('ml-bad/movies.csv', E'movieId,title,genres\r\n1,Toy Story (1995),Comedy\r\n');
CREATE SCHEMA ml_notags;
SELECT * FROM animerec.load_movielens('animerec_regress/ml-bad', schema => 'ml_notags');

-- -------------------------------------------------------- MovieLens, ml-100k
CALL pg_temp.write_file('ml-100k/u.data', E'196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t5\t881250950\n');
CALL pg_temp.write_file('ml-100k/u.item',
    E'242|Kolya (1996)|24-Jan-1997||http://us.imdb.com/M/title-exact?Kolya%20(1996)|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n'
    '302|L.A. Confidential (1997)|01-Jan-1997||http://us.imdb.com/M/title-exact?L%2EA%2E+Confidential+(1997)|0|0|0|0|0|0|1|0|0|0|1|0|0|1|0|0|1|0|0\n'
    '267|unknown||||1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n'
    '1300|"Jack" und Café, "Der" (1997)|01-Jan-1997||http://us.imdb.com/x|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n',
    'LATIN1');
CREATE SCHEMA ml_100k;
SELECT * FROM animerec.load_movielens('animerec_regress/ml-100k/', 'ml_100k');
SELECT * FROM ml_100k.movies ORDER BY movie_id;
SELECT user_id, movie_id, rating, rated_at AT TIME ZONE 'UTC' AS rated_at_utc
  FROM ml_100k.movie_ratings ORDER BY user_id, rated_at;

-- errors
CREATE SCHEMA ml_err;
SELECT * FROM animerec.load_movielens('animerec_regress/empty', 'ml_err');
SELECT * FROM animerec.load_movielens('animerec_regress/no_such_dir', 'ml_err');
SELECT * FROM animerec.load_movielens('animerec_regress/ml-latest', 'ml_latest');
SELECT * FROM animerec.load_movielens(NULL, 'ml_err');
CALL pg_temp.write_file('ml-bad/ratings.csv', E'user,movie,rating,timestamp\r\n1,1,4.0,964982703\r\n');
SELECT * FROM animerec.load_movielens('animerec_regress/ml-bad', 'ml_err');
CALL pg_temp.write_file('ml-bad/ratings.csv', E'userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n');
CALL pg_temp.write_file('ml-bad/movies.csv', E'movieId,title\r\n1,Toy Story (1995)\r\n');
SELECT * FROM animerec.load_movielens('animerec_regress/ml-bad', 'ml_err');
CALL pg_temp.write_file('ml-bad/movies.csv', E'movieId,title,genres\r\n1,Toy Story (1995),Comedy\n');
SELECT * FROM animerec.load_movielens('animerec_regress/ml-bad', 'ml_err');
CALL pg_temp.write_file('empty/u.data', E'1\t2\t3\n');
SELECT * FROM animerec.load_movielens('animerec_regress/empty', 'ml_err');
CALL pg_temp.write_file('empty/u.data', E'1\t2\t3\t881250949\n');
CALL pg_temp.write_file('empty/u.item', E'2|Too|few|fields\n', 'LATIN1');
SELECT * FROM animerec.load_movielens('animerec_regress/empty', 'ml_err');
SELECT count(*) AS tables_in_ml_err FROM pg_tables WHERE schemaname = 'ml_err';

SET client_min_messages = warning;
DROP SCHEMA anime_test, anime_err, ml_latest, ml_notags, ml_100k, ml_err CASCADE;
DROP ROLE regress_animerec_loader;
COPY (SELECT 1 WHERE false) TO PROGRAM 'rm -rf animerec_regress';
