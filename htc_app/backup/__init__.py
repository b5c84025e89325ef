"""Backup and restore of a whole htc install: the database and the trained models, in one checked archive.

Public API: `backup_create`, `backup_restore`, `read_manifest`, `BackupError` (used by the `htc_backup` and
`htc_restore` commands). Keys (`secret_key`, `fernet_key`) are deliberately not in the archive.
"""

from htc_app.backup.archive import backup_create, backup_restore, read_manifest
from htc_app.backup.manifest import BackupError

__all__ = ["BackupError", "backup_create", "backup_restore", "read_manifest"]
