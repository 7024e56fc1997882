"""No tables: the roles are Django groups (see ``access.roles``).

The module exists so that Django sends this app the ``post_migrate`` signal
that keeps the groups in step (see ``AccessConfig.ready``).
"""
