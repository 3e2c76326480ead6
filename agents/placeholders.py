"""Filling the knowledge base's {{Placeholders}}: from the business profile, from entities in
the message, from UI labels. What cannot be filled is rephrased ("order {{Order Number}}" →
"your order") or its sentence is dropped; a reply never shows a raw placeholder."""

from __future__ import annotations

import re

from agents.entities import Entities
from agents.profile import Profile

_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")

PROFILE_FIELDS = {
    "support_phone": {
        "customersupportphonenumber", "supportphonenumber", "customerservicephonenumber",
        "phonenumber", "customersupportnumber", "contactnumber", "supportnumber",
        "customerservicenumber", "customersupporttelephonenumber",
    },
    "support_email": {
        "customersupportemail", "customersupportemailaddress", "supportemail",
        "customerserviceemail", "supportemailaddress", "emailaddress",
    },
    "support_hours": {
        "customersupporthours", "customerservicehours", "customersupportavailability",
        "supporthours", "businesshours", "workinghours", "customerserviceavailability",
        "operatinghours",
    },
    "website_url": {"websiteurl", "website", "websitelink", "companywebsite", "companywebsiteurl"},
    "company_name": {"companyname", "websitename", "storename", "company", "brandname"},
    "live_chat": {"livechat", "livechatsupport", "chat", "livechatfeature"},
}  # fmt: skip
ORDER_KEYS = {
    "ordernumber", "ordernumberanonymized", "orderid", "orderidanonymized", "purchaseid",
    "purchaseidanonymized", "purchasenumber", "purchasenumberanonymized", "trackingnumber",
}  # fmt: skip
INVOICE_KEYS = {
    "invoicenumber", "invoicenumberanonymized", "billnumber", "billnumberanonymized",
    "invoiceid", "receiptnumber",
}  # fmt: skip
NAME_KEYS = {"personname", "clientname", "clientlastname", "clientfirstname", "customername"}
# Placeholders that name a page, tab or button of the shop's site: shown as the label itself
# unless the profile renames it.
UI_LABELS = {
    "orderhistory", "myorders", "accountsettings", "cancelorder", "trackorder", "edit",
    "paymentmethods", "profile", "shippingaddress", "invoices", "contactus", "support", "help",
    "checkout", "billing", "refunds", "returns", "orderdetails", "account", "myaccount",
    "accountdetails", "invoicehistory", "orderstatus", "ordertracking", "editorder",
    "modifyorder", "cancelpurchase", "paymentoptions", "deliveryaddress", "update", "change",
    "download", "feedback", "submit", "addnewaddress", "additem", "additems", "removeitem",
    "deliveryoptions", "newslettersubscription", "accountinformation", "contactpage", "email",
    "settings", "orders", "payment", "invoice", "save", "confirm", "returnsandrefunds",
    "refundpolicy", "cancellationpolicy", "customersupport",
}  # fmt: skip
# Rephrasings for an unknown number, tried before giving up on the sentence. The spaces around
# "#" are taken possessively: two runs side by side backtracked, time quadratic in their length.
_REPHRASE = [
    (re.compile(r"\b(?:the |your )?(?:order|purchase)(?: number| id| ID| #)?\s*+#?\s*+"
                r"\{\{\s*(?:Order Number|Order ID|Purchase (?:ID|Number))(?: Anonymized)?\s*\}\}",
                re.IGNORECASE), "your order"),
    (re.compile(r"\b(?:the |your )?(?:invoice|bill)(?: number| #)?\s*+#?\s*+"
                r"\{\{\s*(?:Invoice|Bill) Number(?: Anonymized)?\s*\}\}", re.IGNORECASE),
     "your invoice"),
    # Started at a comma or where spaces start, never inside a run of them (read again from each).
    (re.compile(r"(?:,\s*|(?<![\s,])\s*)\{\{\s*(?:Salutation|Client (?:First |Last )?Name|"
                r"Person Name|Customer Name)\s*\}\}", re.IGNORECASE), ""),
]  # fmt: skip


def key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


class Filler:
    def __init__(self, profile: Profile, entities: Entities) -> None:
        self.values: dict[str, str] = {}
        for field_name, keys in PROFILE_FIELDS.items():
            for k in keys:
                if value := profile.values.get(field_name, ""):
                    self.values[k] = value
        for k in UI_LABELS:
            self.values.setdefault(k, "")  # resolved lazily to the placeholder's own text
        for name, label in profile.labels.items():
            if label:
                self.values[key(name)] = label
        if entities.order_numbers:
            self.values.update(dict.fromkeys(ORDER_KEYS, entities.order_numbers[0]))
        if entities.invoice_numbers:
            self.values.update(dict.fromkeys(INVOICE_KEYS, entities.invoice_numbers[0]))
        if profile.customer_name:
            self.values.update(dict.fromkeys(NAME_KEYS, profile.customer_name))

    def _value(self, match: re.Match[str]) -> str:
        name = match.group(1)
        value = self.values.get(key(name))
        if value is None:
            return match.group(0)  # unknown: left for rephrasing or dropping
        return value or name  # a UI label with no override reads as its own name

    def fill(self, sentence: str) -> str | None:
        """The sentence with every placeholder filled, or None if it cannot be said."""
        filled = _PLACEHOLDER.sub(self._value, sentence)
        for pattern, replacement in _REPHRASE:
            if "{{" not in filled:
                break
            filled = pattern.sub(replacement, filled)
        if "{{" in filled or "}}" in filled:
            return None
        return re.sub(r"\s+([,.!?])", r"\1", filled).strip()
