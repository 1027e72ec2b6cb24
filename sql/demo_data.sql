-- generate_demo_data(): deterministic, sized as asked, with the planted patterns
\set SHOW_CONTEXT never
CREATE SCHEMA demo_a;
CREATE SCHEMA demo_b;
CREATE SCHEMA demo_c;
CREATE SCHEMA demo_empty;
SELECT * FROM animerec.generate_demo_data(400, 600, 7, 'demo_a');
SELECT * FROM animerec.generate_demo_data(users => 400, items => 600, seed => 7, schema => 'demo_b');
SELECT * FROM animerec.generate_demo_data(400, 600, 8, 'demo_c');

-- a checksum of each data set: same seed, same data; another seed, other data
CREATE FUNCTION pg_temp.checksum(s name) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    items text;
    ratings text;
BEGIN
    EXECUTE format('SELECT md5(string_agg(format(''%%s|%%s|%%s'', item_id, name, tags), '','' ORDER BY item_id)) FROM %I.demo_items', s)
        INTO items;
    EXECUTE format('SELECT md5(string_agg(format(''%%s|%%s|%%s|%%s'', user_id, item_id, rating, rated_at), '','' ORDER BY user_id, rated_at)) FROM %I.demo_ratings', s)
        INTO ratings;
    RETURN md5(items || ratings);
END;
$$;
SELECT pg_temp.checksum('demo_a') = pg_temp.checksum('demo_b') AS same_seed_same_data,
       pg_temp.checksum('demo_a') <> pg_temp.checksum('demo_c') AS other_seed_other_data;
-- the generator is stable across versions and platforms: this exact data set
SELECT pg_temp.checksum('demo_a');
-- the set-returning functions give the same rows as the tables
SELECT (SELECT count(*) FROM (SELECT * FROM animerec.demo_ratings(400, 600, 7)
                              EXCEPT ALL SELECT * FROM demo_a.demo_ratings) d) AS ratings_diff,
       (SELECT count(*) FROM (SELECT * FROM animerec.demo_items(600, 7)
                              EXCEPT ALL SELECT * FROM demo_a.demo_items) d) AS items_diff;
-- a user's history does not depend on how many users are drawn
SELECT count(*) AS user_7_diff
  FROM (SELECT * FROM animerec.demo_ratings(7, 600, 7)  WHERE user_id = 7
        EXCEPT ALL SELECT * FROM demo_a.demo_ratings WHERE user_id = 7) d;

-- shape: item ids 1..items, 2-4 of the 40 genres per item, 5..200 rows per user
SELECT min(item_id), max(item_id), min(cardinality(tags)) AS min_tags,
       max(cardinality(tags)) AS max_tags,
       (SELECT count(DISTINCT t) FROM demo_a.demo_items, unnest(tags) t) AS genres,
       count(*) FILTER (WHERE name LIKE '% Season %') > 100 AS has_sequels
  FROM demo_a.demo_items;
SELECT count(*) AS users, min(n) >= 5 AS min_ok, max(n) <= 200 AS max_ok,
       avg(n) BETWEEN 50 AND 100 AS avg_50_100
  FROM (SELECT user_id, count(*) AS n FROM demo_a.demo_ratings GROUP BY user_id) s;
SELECT count(*) = count(DISTINCT (user_id, rated_at)) AS times_strictly_ordered,
       count(*) = count(DISTINCT (user_id, item_id)) AS no_repeats,
       min(rating) >= 1 AND max(rating) <= 10 AS ratings_1_10,
       count(*) FILTER (WHERE item_id NOT IN (SELECT item_id FROM demo_a.demo_items)) AS unknown_items
  FROM demo_a.demo_ratings;
SELECT indexdef FROM pg_indexes WHERE schemaname = 'demo_a' ORDER BY indexname;

-- planted pattern 1: after a season with a sequel, the sequel comes next ~85%
CREATE TEMP TABLE steps AS
SELECT user_id, item_id, rating,
       lag(item_id) OVER w AS prev_item,
       row_number() OVER w AS pos,
       count(*) OVER (PARTITION BY user_id) AS len
  FROM demo_a.demo_ratings
WINDOW w AS (PARTITION BY user_id ORDER BY rated_at);
SELECT avg((s.item_id = s.prev_item + 1)::int) BETWEEN 0.75 AND 0.95 AS sequel_follows
  FROM steps s
  JOIN demo_a.demo_items q ON q.item_id = s.prev_item + 1 AND q.name LIKE '% Season %';

-- a sequence rule beats popularity on the last item: "the sequel of the
-- previous item" alone hits more often than the 10 most popular items
SELECT avg((l.item_id = l.prev_item + 1)::int) > 2 * avg((l.item_id IN (
           SELECT item_id FROM demo_a.demo_ratings GROUP BY item_id
            ORDER BY count(*) DESC, item_id LIMIT 10))::int) AS sequel_beats_popularity
  FROM steps l WHERE l.pos = l.len;

-- planted pattern 2: genre drift: the genre a user watches most in the first
-- 10 items is much rarer in the last 10
WITH tagged AS (
    SELECT s.user_id, s.pos, s.len, s.rating, t.tag
      FROM steps s JOIN demo_a.demo_items i USING (item_id), unnest(i.tags) AS t(tag)
     WHERE s.len >= 40),
top AS (
    SELECT DISTINCT ON (user_id) user_id, tag
      FROM tagged WHERE pos <= 10
     GROUP BY user_id, tag ORDER BY user_id, count(*) DESC, tag),
share AS (
    SELECT s.user_id,
           avg((i.tags @> ARRAY[top.tag])::int) FILTER (WHERE s.pos <= 10) AS first_10,
           avg((i.tags @> ARRAY[top.tag])::int) FILTER (WHERE s.pos > s.len - 10) AS last_10
      FROM steps s JOIN demo_a.demo_items i USING (item_id) JOIN top USING (user_id)
     GROUP BY s.user_id)
SELECT avg(first_10) > 0.6 AS early_genre_dominates, avg(last_10) < 0.5 * avg(first_10) AS drifts_away
  FROM share;

-- planted pattern 3: popularity skew (Zipf): the top 10% of items get over 20%
-- of the rows (twice their share under uniform popularity), and the most
-- popular item over 5 times the median item
SELECT sum(n) FILTER (WHERE r <= 60)::float / sum(n) > 0.2 AS zipf_head,
       max(n) > 5 * percentile_cont(0.5) WITHIN GROUP (ORDER BY n) AS long_tail
  FROM (SELECT count(*) AS n, row_number() OVER (ORDER BY count(*) DESC) AS r
          FROM demo_a.demo_ratings GROUP BY item_id) s;

-- planted pattern 4: ratings follow taste: a user rates the items of the
-- genre that dominates the first 10 rows higher (in those 10 rows) than the rest
WITH top AS (
    SELECT DISTINCT ON (s.user_id) s.user_id, t.tag
      FROM steps s JOIN demo_a.demo_items i USING (item_id), unnest(i.tags) AS t(tag)
     WHERE s.pos <= 10
     GROUP BY s.user_id, t.tag ORDER BY s.user_id, count(*) DESC, t.tag)
SELECT avg(s.rating) FILTER (WHERE i.tags @> ARRAY[top.tag]) >
       avg(s.rating) FILTER (WHERE NOT i.tags @> ARRAY[top.tag]) + 1 AS taste_rated_higher
  FROM steps s JOIN demo_a.demo_items i USING (item_id) JOIN top USING (user_id)
 WHERE s.pos <= 10;

-- errors
SELECT * FROM animerec.generate_demo_data(0, 600, 1, 'demo_empty');
SELECT * FROM animerec.generate_demo_data(10, 99, 1, 'demo_empty');
SELECT * FROM animerec.generate_demo_data(10, 1000001, 1, 'demo_empty');
SELECT * FROM animerec.generate_demo_data(NULL, 600, 1, 'demo_empty');
SELECT * FROM animerec.generate_demo_data(10, 600, NULL, 'demo_empty');
SELECT * FROM animerec.generate_demo_data(10, 600, 1, NULL);
SELECT * FROM animerec.generate_demo_data(10, 600, 1, 'no_such_schema');
SELECT * FROM animerec.generate_demo_data(10, 600, 1, 'demo_a');
SELECT count(*) FROM animerec.demo_ratings(-1, 600, 1);
SELECT count(*) FROM animerec.demo_items(50, 1);
SELECT count(*) FROM animerec.demo_items(NULL, 1);

SET client_min_messages = warning;
DROP SCHEMA demo_a, demo_b, demo_c, demo_empty CASCADE;
