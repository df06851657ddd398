"""Reading records back from the AICC servers: by key, listed and paged, the agent lists, current values."""
