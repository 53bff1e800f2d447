-- The shared gallery: people (model-free), their embeddings per model family, and the change log
-- that devices catch up from (enrolments, removals, renames, in commit order).
CREATE TABLE siamese_edge_database (database_id uuid PRIMARY KEY DEFAULT gen_random_uuid());
INSERT INTO siamese_edge_database DEFAULT VALUES;

CREATE TABLE people (
    id bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    enrolled_at timestamptz NOT NULL DEFAULT now(),
    device text NOT NULL,
    host text NOT NULL DEFAULT ''
);

CREATE TABLE embeddings (
    id bigserial PRIMARY KEY,
    person_id bigint NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    model_hash text NOT NULL,
    vector bytea NOT NULL,
    source text NOT NULL DEFAULT '',
    digest text NOT NULL DEFAULT '',
    face bytea,
    enrolled_at timestamptz NOT NULL DEFAULT now(),
    device text NOT NULL,
    host text NOT NULL DEFAULT ''
);
CREATE INDEX embeddings_of_model ON embeddings (model_hash, person_id, id);
CREATE UNIQUE INDEX embeddings_one_photo ON embeddings (model_hash, digest) WHERE digest <> '';

CREATE TABLE changes (
    seq bigserial PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('enroll', 'remove', 'rename')),
    name text NOT NULL,
    new_name text,
    embeddings integer NOT NULL DEFAULT 0,
    at timestamptz NOT NULL DEFAULT now(),
    device text NOT NULL,
    host text NOT NULL DEFAULT ''
);
-- The removal log: who was removed, when, by which device, with how many embeddings.
CREATE VIEW removals AS SELECT seq, name, embeddings, at, device, host FROM changes WHERE kind = 'remove';
