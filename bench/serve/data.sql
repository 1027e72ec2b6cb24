-- bench/serve/data.sql — generated ratings for the serving benchmark:
-- :users users with 50 rows each over items 10, 20, ..., 10 * :items, with an
-- index on (user_id, ts) as recommend() wants.
DROP TABLE IF EXISTS bench_ratings;
CREATE TABLE bench_ratings (user_id int, anime_id int, rating real, ts int);
SELECT setseed(0.42);
INSERT INTO bench_ratings
SELECT u, 10 * (1 + floor(random() * :items)::int), 1 + floor(random() * 10), s
FROM generate_series(1, :users) u, generate_series(1, 50) s;
CREATE INDEX ON bench_ratings (user_id, ts);
ANALYZE bench_ratings;
