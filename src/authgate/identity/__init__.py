"""Identity domain: users, passwords and the rules around them."""
