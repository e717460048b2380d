"""The HTTP API process: a thin FastAPI front that authenticates, gates and queues."""
