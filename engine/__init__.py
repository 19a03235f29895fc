"""The engine: runs the charter diagrams, stores tickets, keeps time and history."""
