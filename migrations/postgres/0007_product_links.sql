-- Catalogue: which WooCommerce product or variation sells which ERPNext Item (matched by SKU =
-- item_code), and what the service last pushed to it (stock, prices), so only changes are written.
CREATE TABLE product_links (
    connection_id BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    item_code TEXT NOT NULL,
    -- the product, or the variable product a variation belongs to
    product_id BIGINT NOT NULL,
    -- 0 for a simple product
    variation_id BIGINT NOT NULL,
    -- 1 when ERPNext keeps stock of the item (only those get stock pushed)
    is_stock_item INTEGER NOT NULL,
    -- the stock quantity last written to the shop (decimal text), NULL before the first push
    pushed_stock TEXT,
    pushed_stock_at TEXT,
    -- the prices last written to the shop (JSON: regular, sale, sale dates), NULL before
    pushed_prices TEXT,
    pushed_prices_at TEXT,
    linked_at TEXT NOT NULL,
    PRIMARY KEY (connection_id, item_code),
    UNIQUE (connection_id, product_id, variation_id)
);
