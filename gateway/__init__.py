"""The service around the pipelines: REST API, job store, worker, webhooks, logging."""
