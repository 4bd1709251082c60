"""Scripts the ERPNext simulator the way ERPNext users script a real site:
plain `requests`, token auth, /api/resource and /api/method.

Usage: ERPNEXT_URL=http://127.0.0.1:8082 ERPNEXT_KEY=... ERPNEXT_SECRET=... python3 conformance.py
Exits non-zero with a message on the first expectation that does not hold.
"""

import json
import os
import sys

import requests

BASE = os.environ["ERPNEXT_URL"].rstrip("/")
SESSION = requests.Session()
SESSION.headers.update(
    {
        "Authorization": "token {}:{}".format(os.environ["ERPNEXT_KEY"], os.environ["ERPNEXT_SECRET"]),
        "Accept": "application/json",
    }
)


def expect(condition, message):
    if not condition:
        print("FAILED: " + message, file=sys.stderr)
        sys.exit(1)


def resource(doctype, name=None):
    url = "{}/api/resource/{}".format(BASE, requests.utils.quote(doctype))
    if name is not None:
        url += "/" + requests.utils.quote(name, safe="")
    return url


def method(path):
    return "{}/api/method/{}".format(BASE, path)


# Credentials check.
response = SESSION.get(method("frappe.auth.get_logged_user"))
expect(response.status_code == 200, "get_logged_user answered {}".format(response.status_code))
expect(response.json()["message"] == "Administrator", "logged in as Administrator")

# Wrong secret: 401 AuthenticationError.
wrong = requests.get(resource("Customer"), headers={"Authorization": "token {}:nope".format(os.environ["ERPNEXT_KEY"])})
expect(wrong.status_code == 401, "wrong secret gives 401, got {}".format(wrong.status_code))
expect(wrong.json().get("exc_type") == "AuthenticationError", "AuthenticationError")

# A customer; a second one with the same name is renamed, not refused.
customer = SESSION.post(resource("Customer"), json={"customer_name": "Py Buyer", "customer_group": "Individual", "territory": "United States", "email_id": "py@example.com"})
expect(customer.status_code == 200, "customer insert: {}".format(customer.text[:300]))
expect(customer.json()["data"]["name"] == "Py Buyer", "customer named by customer_name")
again = SESSION.post(resource("Customer"), json={"customer_name": "Py Buyer"})
expect(again.json()["data"]["name"] == "Py Buyer - 1", "duplicate customer name gets ' - 1'")

item = SESSION.post(resource("Item"), json={"item_code": "PY-1", "item_name": "Py item", "item_group": "Products", "stock_uom": "Nos", "is_stock_item": 0})
expect(item.status_code == 200, "item insert")
duplicate = SESSION.post(resource("Item"), json={"item_code": "PY-1", "item_group": "Products", "stock_uom": "Nos"})
expect(duplicate.status_code == 409 and duplicate.json()["exc_type"] == "DuplicateEntryError", "duplicate item is 409")

# A draft Sales Order, then submitted with PUT docstatus 1.
order = {
    "customer": "Py Buyer",
    "company": "Test Company",
    "transaction_date": "2026-11-26",
    "delivery_date": "2026-12-03",
    "po_no": "PY-PO-1",
    "items": [{"item_code": "PY-1", "qty": 3, "rate": 19.99}],
    "taxes": [{"charge_type": "Actual", "account_head": "Freight and Forwarding Charges - TC", "description": "Shipping", "tax_amount": 4.5}],
}
created = SESSION.post(resource("Sales Order"), json=order)
expect(created.status_code == 200, "sales order insert: {}".format(created.text[:300]))
so = created.json()["data"]
expect(so["docstatus"] == 0 and so["status"] == "Draft", "draft order")
expect(abs(so["grand_total"] - 64.47) < 1e-9, "grand_total 64.47, got {}".format(so["grand_total"]))
submitted = SESSION.put(resource("Sales Order", so["name"]), json={"docstatus": 1})
expect(submitted.status_code == 200 and submitted.json()["data"]["status"] == "To Deliver and Bill", "submitted")

# Missing mandatory customer: MandatoryError with a double-encoded message.
missing = SESSION.post(resource("Sales Order"), json={k: v for k, v in order.items() if k != "customer"})
expect(missing.status_code == 417 and missing.json()["exc_type"] == "MandatoryError", "MandatoryError")
messages = [json.loads(m)["message"] for m in json.loads(missing.json()["_server_messages"])]
expect(messages == ["Error: Value missing for Sales Order: Customer"], "message: {}".format(messages))

# List with filters, fields and ordering.
listed = SESSION.get(
    resource("Sales Order"),
    params={
        "filters": json.dumps([["customer", "=", "Py Buyer"], ["docstatus", "=", 1]]),
        "fields": json.dumps(["name", "grand_total", "status"]),
        "order_by": "creation desc",
        "limit_page_length": 5,
    },
)
rows = listed.json()["data"]
expect(len(rows) == 1 and rows[0]["name"] == so["name"], "list by filters: {}".format(rows))
count = SESSION.get(method("frappe.client.get_count"), params={"doctype": "Sales Order", "filters": json.dumps({"docstatus": 1})})
expect(count.json()["message"] == 1, "get_count")

# Invoice it with ERPNext's own mapping, then pay it.
mapped = SESSION.post(method("erpnext.selling.doctype.sales_order.sales_order.make_sales_invoice"), json={"source_name": so["name"]}).json()["message"]
invoice = SESSION.post(resource("Sales Invoice"), json=mapped).json()["data"]
SESSION.put(resource("Sales Invoice", invoice["name"]), json={"docstatus": 1})
payment = SESSION.post(method("erpnext.accounts.doctype.payment_entry.payment_entry.get_payment_entry"), json={"dt": "Sales Invoice", "dn": invoice["name"]}).json()["message"]
payment.update({"mode_of_payment": "Cash", "docstatus": 1})
paid = SESSION.post(resource("Payment Entry"), json=payment)
expect(paid.status_code == 200, "payment insert: {}".format(paid.text[:300]))
status = SESSION.get(resource("Sales Invoice", invoice["name"])).json()["data"]["status"]
expect(status == "Paid", "invoice paid, got {}".format(status))

# Unknown method and unknown doctype, as recorded.
unknown = SESSION.post(method("erpnext.no_such_module.no_such_method"), json={})
expect(unknown.status_code == 417, "unknown method is 417")
expect(SESSION.get(resource("No Such Doctype")).status_code == 404, "unknown doctype is 404")

print("ok")
