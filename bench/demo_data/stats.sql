-- bench/demo_data/stats.sql — how much there is to learn in a demo data set: run
-- after SELECT * FROM animerec.generate_demo_data(...) in the current database
-- (public.demo_items, public.demo_ratings), e.g. after scripts/demo with
-- KEEP_CLUSTER, or:
--   psql -c "SELECT * FROM animerec.generate_demo_data(users => 5000, items => 2000, seed => 42)" \
--        -f bench/demo_data/stats.sql
-- Prints: how often the sequel follows a season that has one; on each user's
-- last item, how often "the item after the previous one" is right, and how often
-- the 10 most popular items contain it.  The same measures as sql/demo_data.sql.
CREATE TEMP TABLE steps AS
SELECT user_id, item_id,
       lag(item_id) OVER w AS prev_item,
       row_number() OVER w AS pos,
       count(*) OVER (PARTITION BY user_id) AS len
  FROM public.demo_ratings
WINDOW w AS (PARTITION BY user_id ORDER BY rated_at);
SELECT round(100 * avg((s.item_id = s.prev_item + 1)::int), 1) AS sequel_follows_pct
  FROM steps s
  JOIN public.demo_items q ON q.item_id = s.prev_item + 1 AND q.name LIKE '% Season %';
SELECT round(100 * avg((l.item_id = l.prev_item + 1)::int), 1) AS last_item_is_next_pct,
       round(100 * avg((l.item_id IN (SELECT item_id FROM public.demo_ratings GROUP BY item_id
                                       ORDER BY count(*) DESC, item_id LIMIT 10))::int), 1)
           AS last_item_in_top10_popular_pct
  FROM steps l WHERE l.pos = l.len;
