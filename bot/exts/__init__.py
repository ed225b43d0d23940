"""One package per feature: video (the commands that make clips), quota, privacy, admin, help."""
