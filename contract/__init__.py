"""The contract taskql keeps with its clients that code can state: its errors (SPEC §3)."""
