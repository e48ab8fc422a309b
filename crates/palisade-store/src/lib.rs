//! State shared by gateway replicas and the CLI: keys, users, review queue,
//! kill switch and quotas, in SQLite (default) or PostgreSQL.
