// Drives our WooCommerce simulator with WooCommerce's official JavaScript client
// (@woocommerce/woocommerce-rest-api) over plain HTTP, so OAuth 1.0a is used.
// Prints one JSON line that tests/woocommerce_conformance.rs checks.
"use strict";

const WooCommerceRestApi = require("@woocommerce/woocommerce-rest-api").default;

async function main() {
  const api = new WooCommerceRestApi({
    url: process.env.WOO_URL,
    consumerKey: process.env.WOO_KEY,
    consumerSecret: process.env.WOO_SECRET,
    version: "wc/v3",
    timeout: 10000,
  });
  const ids = [];
  let page = 1;
  let totalPages = 0;
  let total = 0;
  do {
    const response = await api.get("orders", { per_page: 20, page });
    totalPages = Number(response.headers["x-wp-totalpages"]);
    total = Number(response.headers["x-wp-total"]);
    for (const order of response.data) ids.push(order.id);
    page += 1;
  } while (page <= totalPages);

  const one = await api.get(`orders/${ids[0]}`);
  const updated = await api.put(`orders/${ids[0]}`, { status: "completed" });
  console.log(JSON.stringify({
    client: "js",
    pages: totalPages,
    total,
    listed: ids.length,
    distinct: new Set(ids).size,
    read_id: one.data.id,
    read_total: one.data.total,
    updated_id: updated.data.id,
    updated_status: updated.data.status,
  }));
}

main().catch((error) => {
  const detail = error.response ? `${error.response.status} ${JSON.stringify(error.response.data)}` : String(error);
  console.error(`official JS client failed: ${detail}`);
  process.exit(1);
});
