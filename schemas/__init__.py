"""Wirewatch's records and pure helpers: pydantic models, shared types, ids. No Beam, no I/O."""
