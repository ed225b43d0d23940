"""One package per feature: video (the commands that make clips), quota, preferences, privacy, admin, help."""
