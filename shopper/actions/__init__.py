"""Corrective actions: findings turned into fixes with an owner and a date, re-audits, and then-and-now comparisons."""
