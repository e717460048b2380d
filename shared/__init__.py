"""Code the API, the scheduler and the workers share. Imports neither FastAPI nor arq."""
