-- Webhook deliveries refused per connection and cause (no secret set, a signature that does not
-- match, a body that cannot be read), so the dashboard can say that a connection is cut off and
-- since when. A delivery accepted from the same source clears that source's rows.
CREATE TABLE webhook_rejections (
    connection_id BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    -- woocommerce or erpnext
    source TEXT NOT NULL,
    -- no_secret, signature or malformed
    reason TEXT NOT NULL,
    refused BIGINT NOT NULL,
    first_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    PRIMARY KEY (connection_id, source, reason)
);
