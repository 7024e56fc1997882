"""CRM CSV import: read a file as the CRM team sends it, map its columns, check each row, apply it.

The admin (through django-import-export) and the ``import_profiles`` command share
everything here: the same reading, the same mapping, the same row checks, the
same rules for merging people and recording consent.
"""
