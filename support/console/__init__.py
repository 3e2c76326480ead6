"""The agent console: server-rendered review screens (HTMX) kept live over /ws/console/."""
