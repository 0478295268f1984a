"""The ``/v1`` routes, one router per business area; ``app.create_app`` includes them in
the order of ``ROUTERS`` there.

A route parses the request into a command, calls the area's use case with the caller's
unit of work and turns the answer into the area's wire schema (``schemas/<area>.py``).
Routers share only ``deps`` (the caller, path ids, error answers), never each other.
"""
