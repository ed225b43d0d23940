"""The bot's memory in SQLite: quotas, per-server settings and the job ledger. Only the bot opens it."""
