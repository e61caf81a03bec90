-- preferences: per-user settings (preferences feature).
CREATE TABLE IF NOT EXISTS preferences (
  user_id        uuid        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  theme          text        NOT NULL DEFAULT 'system' CHECK (theme IN ('light', 'dark', 'system')),
  language       text        NOT NULL DEFAULT 'en',
  notifications  boolean     NOT NULL DEFAULT true,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
