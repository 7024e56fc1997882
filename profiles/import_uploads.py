"""The file a marketer uploaded in the admin, kept by django-import-export's temporary storage between
the import's steps: the web server stores it, the worker that previews or imports it opens it by its name.
"""

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.utils.module_loading import import_string
from import_export.tmp_storages import BaseStorage, TempFolderStorage

from profiles.importing.reading import CsvLayout


def tmp_storage(name: str | None = None) -> BaseStorage:
    """django-import-export's temporary storage (IMPORT_EXPORT_TMP_STORAGE_CLASS) of an uploaded file.

    The web server stores the file there and the worker that imports it opens it by its name: on
    several machines, that storage must be shared (MediaStorage on shared storage; see README.md).
    """
    storage_class = getattr(settings, "IMPORT_EXPORT_TMP_STORAGE_CLASS", TempFolderStorage)
    if isinstance(storage_class, str):
        storage_class = import_string(storage_class)
    return storage_class(name=name, encoding=None, read_mode="rb")


@dataclass
class StoredUpload:
    """The uploaded file, kept by django-import-export's temporary storage between the steps."""

    storage: BaseStorage
    layout: CsvLayout

    @staticmethod
    def open_storage(storage: BaseStorage) -> BinaryIO:
        if isinstance(storage, TempFolderStorage):
            # Streamed from disk rather than read into memory.
            return Path(storage.get_full_path()).open("rb")
        data = storage.read()
        if data is None:  # CacheStorage, once expired
            raise FileNotFoundError(storage.name)
        return io.BytesIO(data if isinstance(data, bytes) else data.encode("utf-8"))

    def open(self) -> BinaryIO:
        return self.open_storage(self.storage)

    def remove(self) -> None:
        stored_file_remove(self.storage)


def stored_file_remove(storage: BaseStorage) -> None:
    with contextlib.suppress(FileNotFoundError):
        storage.remove()
