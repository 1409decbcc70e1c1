"""gdkit's built-in plugins (import package ``gdkit_plugins``).

Each module is listed under the ``gdkit.plugins`` entry-point group of the
``gdkit`` distribution and reaches the core only through its public API,
exactly as a third-party plugin does.
"""
