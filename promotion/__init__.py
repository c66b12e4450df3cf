"""Redis promotion: template candidates (deterministic tarballs named by digest), a store
(directory or S3), an append-only ledger, gates dev -> staging -> production, parity, a
lock, and the integration checks. CLI: `python -m promotion`; user docs: docs/promotion.md.
"""
