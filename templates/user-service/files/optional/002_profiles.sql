-- profiles: the public face of a user (profile-management feature).
CREATE TABLE IF NOT EXISTS profiles (
  user_id       uuid        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  display_name  text        NOT NULL DEFAULT '',
  bio           text        NOT NULL DEFAULT '',
  avatar_url    text        NOT NULL DEFAULT '',
  updated_at    timestamptz NOT NULL DEFAULT now()
);
