"""The customer chat widget: public keys, conversation tokens, CORS, the demo page."""
