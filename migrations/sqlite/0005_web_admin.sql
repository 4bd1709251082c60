-- The web UI's admin credential (an Argon2 hash; one row, id 1) and its server-side sessions
-- (the cookie's token only as a keyed digest), so a password survives restarts and logout or a
-- password change revokes sessions.
CREATE TABLE admin_credential (
    id INTEGER PRIMARY KEY,
    password_hash TEXT NOT NULL,
    changed_at TEXT NOT NULL
);

CREATE TABLE web_sessions (
    token_digest TEXT PRIMARY KEY,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
