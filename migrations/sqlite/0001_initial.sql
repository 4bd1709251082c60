-- Timestamps are UTC text `YYYY-MM-DDTHH:MM:SS.ffffffZ` (sortable); money is decimal text.
CREATE TABLE connections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    settings TEXT NOT NULL,
    sealed_credentials TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    topic TEXT NOT NULL,
    object_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL,
    processed_at TEXT,
    UNIQUE (connection_id, source, content_hash)
);
CREATE INDEX inbox_unprocessed ON inbox (processed_at, id);

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    rerun INTEGER NOT NULL DEFAULT 0,
    run_after TEXT NOT NULL,
    lease_until TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (connection_id, kind, object_id)
);
CREATE INDEX jobs_claimable ON jobs (state, run_after);

CREATE TABLE links (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    woo_kind TEXT NOT NULL,
    woo_id TEXT NOT NULL,
    erp_doctype TEXT NOT NULL,
    erp_name TEXT NOT NULL,
    fingerprint TEXT,
    amount TEXT,
    updated_at TEXT NOT NULL,
    UNIQUE (connection_id, woo_kind, woo_id, erp_doctype)
);

CREATE TABLE sync_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    direction TEXT NOT NULL,
    object_kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    message TEXT NOT NULL,
    request_excerpt TEXT,
    response_excerpt TEXT,
    duration_ms INTEGER NOT NULL,
    attempt INTEGER NOT NULL
);
CREATE INDEX sync_log_object ON sync_log (connection_id, object_kind, object_id);
CREATE INDEX sync_log_outcome ON sync_log (outcome, id);

CREATE TABLE cursors (
    connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (connection_id, name)
);
