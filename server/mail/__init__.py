"""Email as an optional channel: messages, a durable outbox, and the worker that sends it over SMTP."""
