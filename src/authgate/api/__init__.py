"""REST adapters: the public user-pool API and the admin API."""
