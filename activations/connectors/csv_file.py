"""CSV file to download: the whole run as one file on the platform's disk, served by the admin.

The file is ``<run uuid>.csv`` under ``settings.CDP_EXPORT_DIR`` (see
activations/exports.py), in the format the destination's settings describe
(columns, delimiter, encoding, header: see files.py). It is written under a
temporary name and renamed when complete, so a download never gets half a
file, and a retried run replaces its own file.
"""

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext

from activations.connectors import Batch, BatchOutcome, Connector, ConnectorError, register
from activations.connectors.files import FileFormat, csv_write
from activations.exports import csv_export_path
from activations.models import ConnectorKind

# Errors someone must fix (rights, a read-only disk, a file where the folder should be);
# the others (a full disk) may pass, and are retried.
PERMANENT_ERRORS = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR)


@register
class CsvFileConnector(Connector):
    kind = ConnectorKind.CSV_FILE
    default_batch_size = None

    def test_connection(self) -> str:
        FileFormat.from_settings(self.settings)
        directory = Path(settings.CDP_EXPORT_DIR)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            # Writing a file is the only sure test of the rights (os.access ignores ACLs and read-only mounts).
            with tempfile.TemporaryFile(dir=directory):
                pass
        except OSError as error:
            raise ConnectorError(
                gettext("Files cannot be written to %(directory)s: %(error)s")
                % {"directory": directory, "error": error.strerror or error}
            )
        return gettext("Files are written to %(directory)s, and it is writable.") % {"directory": directory}

    def send(self, batch: Batch) -> BatchOutcome:
        try:
            file_format = FileFormat.from_settings(self.settings)
        except ConnectorError as error:
            return BatchOutcome.all_failed(batch, str(error))
        path = csv_export_path(batch.run)
        temporary = path.with_name(f".{path.name}.part")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with temporary.open("wb") as output:
                csv_write(recipients=batch.recipients, file_format=file_format, output=output)
                # On disk before the rename: a crash never leaves a complete name on incomplete data.
                output.flush()
                os.fsync(output.fileno())
            os.replace(temporary, path)
        except OSError as error:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            reason = gettext("Cannot write the file %(path)s: %(error)s") % {
                "path": path,
                "error": error.strerror or error,
            }
            if error.errno in PERMANENT_ERRORS:
                return BatchOutcome.all_failed(batch, reason)
            return BatchOutcome.all_retry(batch, reason)
        return BatchOutcome.all_delivered(batch)
