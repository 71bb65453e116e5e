-- When the session's user last proved who they are: at sign-in, and again by a step-up
-- check of their password or second factor. Minting an API token, adding a second factor,
-- new recovery codes and a new e-mail address need such a check within the last minutes,
-- so a stolen session alone cannot make itself permanent. NULL in sessions from before
-- this column: their sign-in time (created_at) counts.
ALTER TABLE sessions ADD COLUMN verified_at TEXT;
