-- users: one row per person managed by the user service. The id is the auth
-- service's account id when the client passes it, so both services name a person
-- the same way.
CREATE TABLE IF NOT EXISTS users (
  id          uuid        PRIMARY KEY,
  email       text        NOT NULL UNIQUE,
  name        text        NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
