"""Web Push: VAPID keys, the durable outbox, the sender and the worker that drains it."""
