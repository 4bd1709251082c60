-- Sales Orders born in ERPNext that the service creates in WooCommerce: the row is written
-- (pending, no order id) before the create, so after an uncertain outcome the next attempt looks
-- the shop up for the order's key before it creates anything; the order id once it is known.
CREATE TABLE erpnext_orders (
    connection_id BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    sales_order TEXT NOT NULL,
    -- the WooCommerce order made for it; NULL while the create is pending
    order_id TEXT,
    -- when the first create was attempted (the shop is searched from a little before)
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (connection_id, sales_order)
);
CREATE INDEX erpnext_orders_by_order ON erpnext_orders (connection_id, order_id);
