"""The scheduler process: moves jobs from the fair per-user queues into the per-pool arq queues."""
