"""`wirewatch serve`: a read-only web app over either store (search, article, alerts, feeds)."""
