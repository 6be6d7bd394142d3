"""Row-level reads and writes, one module per concern. Each function takes an open connection."""
