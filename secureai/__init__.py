"""The `secureai` command: one entry point that starts each kind of process and runs the tools."""
