"""The PIR app's api package."""
