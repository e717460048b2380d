"""Route modules, one per area; each route is a few lines over the gate and the job store."""
