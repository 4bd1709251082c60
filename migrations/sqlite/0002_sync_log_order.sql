-- The WooCommerce order an entry belongs to (a refund's entries too), so an order's page and
-- `log --order` show everything that happened to it.
ALTER TABLE sync_log ADD COLUMN order_id TEXT;
UPDATE sync_log SET order_id = object_id WHERE object_kind = 'order';
CREATE INDEX sync_log_order ON sync_log (connection_id, order_id);
