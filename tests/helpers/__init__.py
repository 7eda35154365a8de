"""Helpers shared by the tests, one module per concern (fixtures live in the conftest.py files).

- database: the template database's file name and the PostgreSQL server the tests use.
- csrf: the CSRF token of a page (csrf_of) or of a signed-in client (csrf_token), and the
  check that every POST form of a page carries it.
- clients: signing in through the real form; separate clients signed in as demo users.
- releases: publish_revision, the one way tests publish a release of an agency's guidance.
- editor: the admin editor and review steps, through the real forms.
- acks: acknowledgment forms and API posts.
- push: waiting for the push outbox; push_service: the push-service stand-in.
- route_matrix: who may use each route, and two agencies' worth of objects to try them on.
- browser: the app in a uvicorn subprocess and helpers for driving Chromium pages.
"""
