"""Drives our WooCommerce simulator with WooCommerce's official Python client
(PyPI `WooCommerce`) over plain HTTP, so OAuth 1.0a is used. Prints one JSON
line that tests/woocommerce_conformance.rs checks."""

import json
import os
import sys

from woocommerce import API


def main():
    api = API(
        url=os.environ["WOO_URL"],
        consumer_key=os.environ["WOO_KEY"],
        consumer_secret=os.environ["WOO_SECRET"],
        version="wc/v3",
        timeout=10,
    )
    ids = []
    page = 1
    total_pages = 0
    total = 0
    while True:
        response = api.get("orders", params={"per_page": 20, "page": page})
        if response.status_code != 200:
            sys.exit(f"official Python client failed: {response.status_code} {response.text}")
        total_pages = int(response.headers["X-WP-TotalPages"])
        total = int(response.headers["X-WP-Total"])
        ids.extend(order["id"] for order in response.json())
        page += 1
        if page > total_pages:
            break

    one = api.get(f"orders/{ids[0]}")
    updated = api.put(f"orders/{ids[0]}", {"status": "completed"})
    if one.status_code != 200 or updated.status_code != 200:
        sys.exit(f"official Python client failed: {one.status_code} {updated.status_code} {updated.text}")
    print(json.dumps({
        "client": "python",
        "pages": total_pages,
        "total": total,
        "listed": len(ids),
        "distinct": len(set(ids)),
        "read_id": one.json()["id"],
        "read_total": one.json()["total"],
        "updated_id": updated.json()["id"],
        "updated_status": updated.json()["status"],
    }))


if __name__ == "__main__":
    main()
