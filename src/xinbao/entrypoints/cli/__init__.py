"""The ``xinbao`` command line (Typer + rich): ``main`` builds the root command from one module
per business area; ``common`` holds what they share (the container, the console, the options,
refusals mapped to exit codes). Area modules import ``common`` and the use cases, never each
other.

Operator commands run on the server and act as the system (``system:cli:<os user>`` in the
audit trail); the simulator acts as ``system:simulator``.
"""
