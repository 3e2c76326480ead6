"""Actions with approval (issue #27): the catalogue of operational moves the copilot may propose
(`catalogue.py`: each defined once, its JSON Schema, risk and policy check), their proposal,
approval, rejection and execution through a backend (ACTIONS_BACKEND: `builtin`, the Order
model; `http`, a signed POST to the store)."""
