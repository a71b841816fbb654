"""Everything that touches the database: connections, migrations and one repository per aggregate.

Nothing outside this package writes SQL. Repositories return typed records (``records.py``).
"""
