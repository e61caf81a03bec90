-- The display name given at registration, returned by /auth/me and carried in the
-- access token. Not in the architecture's `credentials` definition: added here.
ALTER TABLE credentials ADD COLUMN IF NOT EXISTS name text NOT NULL DEFAULT '';
