-- animerec 0.2.0 -> 0.3.0 (ALTER EXTENSION animerec UPDATE).  Mirrors the
-- changes to sql/install/*.sql since 0.2.0; scripts/test compares an updated
-- installation with a fresh one (test/upgrade.sh).
\echo Use "ALTER EXTENSION animerec UPDATE TO '0.3.0'" to load this file. \quit
