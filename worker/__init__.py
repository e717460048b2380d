"""The worker process: an arq worker bound to one pool, running jobs through the model backends."""
