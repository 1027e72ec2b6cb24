-- ---------------------------------------------------------------------------
-- The model registry (src/registry.c, src/train.c).  Both tables are extension
-- configuration tables, so pg_dump dumps their rows.
-- ---------------------------------------------------------------------------

-- One row per trained version of a model name.
CREATE TABLE models (
    name            text        NOT NULL
                    CHECK (name ~ '^[a-z_][a-z0-9_]{0,62}$'),
    version         int         NOT NULL CHECK (version > 0),
    status          text        NOT NULL
                    CHECK (status IN ('training', 'ready', 'failed')),
    active          boolean     NOT NULL DEFAULT false,
    owner           name        NOT NULL DEFAULT current_user,
    ratings_table   text        NOT NULL,   -- qualified, quoted name of the ratings relation
    user_col        text        NOT NULL,
    item_col        text        NOT NULL,
    rating_col      text,                   -- NULL: no rating column
    order_col       text,                   -- NULL: no order column (item id order)
    items_table     text,                   -- NULL: no item metadata
    item_key        text,
    tags_col        text,
    user_tags_table text,
    hyperparams     jsonb       NOT NULL,
    metrics         jsonb       NOT NULL DEFAULT '{}',
    n_rows          bigint,
    n_users         int,
    n_items         int,
    n_tags          int,
    epochs_done     int         NOT NULL DEFAULT 0,
    best_epoch      int,
    bytes           bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    weights         bytea,                  -- nn weight format (src/nn/format.c); best epoch so far
    PRIMARY KEY (name, version)
);
CREATE UNIQUE INDEX models_one_active ON models (name) WHERE active;
COMMENT ON TABLE models IS
    'animerec model registry: one row per trained version; exactly one active version per name serves';

-- One row per finished epoch of a training run.
CREATE TABLE training_log (
    name            text        NOT NULL,
    version         int         NOT NULL,
    epoch           int         NOT NULL,
    loss            double precision,
    val_hr          double precision,
    val_ndcg        double precision,
    seconds         double precision,
    positions_per_s double precision,
    logged_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version, epoch),
    FOREIGN KEY (name, version) REFERENCES models ON DELETE CASCADE
);
COMMENT ON TABLE training_log IS 'per-epoch loss, validation HR@10/NDCG@10, time and throughput of every training run';

SELECT pg_catalog.pg_extension_config_dump('models', '');
SELECT pg_catalog.pg_extension_config_dump('training_log', '');
