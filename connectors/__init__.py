"""Everything that touches the outside world: plain typed functions, and thin Beam transforms (…io.py)."""
