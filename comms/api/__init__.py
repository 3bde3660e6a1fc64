"""comms' API under /api/major-incidents/<number>/: updates, drafts, canned responses."""
