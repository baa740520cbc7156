"""A FastAPI service over an inspection ledger (台账): see docs/backend.md."""
