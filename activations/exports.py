"""CSV files of campaign runs kept on the platform's disk, for marketers to download from the admin.

The "CSV file to download" connector writes one file per run, named by the run's
uuid under ``settings.CDP_EXPORT_DIR``; the admin routes to ``csv_export_download``.
The files hold personal data: only staff allowed to view campaign runs get them.
"""

import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext

from activations.models import CampaignRun


def csv_export_path(run_uuid: uuid.UUID | str) -> Path:
    """The file of a run. The uuid is parsed (ValueError otherwise), so no request can name another path."""
    return Path(settings.CDP_EXPORT_DIR) / f"{uuid.UUID(str(run_uuid))}.csv"


def csv_export_download(request: HttpRequest, run_uuid: uuid.UUID | str) -> FileResponse:
    """Serve a run's CSV file as an attachment named after the campaign and the run's start."""
    user = request.user
    if not (user.is_active and user.is_staff and user.has_perm("activations.view_campaignrun")):
        raise PermissionDenied
    try:
        path = csv_export_path(run_uuid)
    except ValueError:
        raise Http404(gettext("No such campaign run."))
    # A file whose run was deleted is not served: deleting the run withdraws its file.
    run = CampaignRun.objects.select_related("campaign").filter(uuid=path.stem).first()
    if run is None:
        raise Http404(gettext("No such campaign run."))
    try:
        file = path.open("rb")
    except FileNotFoundError:
        raise Http404(gettext("This campaign run has no CSV file (yet)."))
    started = timezone.localtime(run.created_at)
    return FileResponse(
        file,
        as_attachment=True,
        filename=f"{run.campaign.slug}_{started:%Y-%m-%d_%H%M}.csv",
        content_type="text/csv",
    )
