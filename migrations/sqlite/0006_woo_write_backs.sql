-- What the service last wrote to a WooCommerce order from ERPNext (status, meta, order notes),
-- so nothing is written twice and a status the shop changed after our write is left alone.
CREATE TABLE woo_write_backs (
    connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    order_id TEXT NOT NULL,
    sales_order TEXT NOT NULL,
    -- the order's WooCommerce status as our last write left it
    status TEXT,
    -- the order's date_modified_gmt as our last write left it
    woo_modified TEXT,
    -- JSON object: meta key → the value we last wrote
    meta TEXT NOT NULL,
    -- JSON array: the keys of the order notes we wrote
    notes TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (connection_id, order_id)
);
