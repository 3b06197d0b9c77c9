"""What replicas share through Redis: rate-limit budgets and change notices."""
