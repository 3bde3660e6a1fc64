"""Chat commands into the war room (Slack's /mim)."""
