"""Persistent storage behind one repository interface: SQLite by default, PostgreSQL for
several gateway replicas. The server keeps no records yet; keys, usage and tasks will
live here."""
