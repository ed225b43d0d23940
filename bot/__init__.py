"""The Discord bot: slash commands, buttons, live progress and delivery. Never imports torch."""
