"""Images cannot be screened automatically: a person must look at every one."""

import re

from traitlets import List, Unicode

from enclave.output_review.checks.base import OutputCheck

INLINE_IMAGE = re.compile(r"data:image/|<img\b|<svg\b", re.I)


class Images(OutputCheck):
    advice = (
        "it cannot be screened automatically: a reviewer must check that no axis, label or "
        "point shows a small count or an individual."
    )
    rule = "image"

    mimetypes = List(
        Unicode(),
        ["image/png", "image/jpeg", "image/svg+xml", "image/gif", "image/bmp", "image/webp"],
        help="Output and attachment mimetypes that are images and need review.",
    ).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        for number, output in enumerate(cell.get("outputs", ())):
            shown = [m for m in output.get("data", {}) if m in self.mimetypes]
            if shown:
                self.flag(resources, index, number, "review", f"an image ({shown[0]})")
        attached = [mime for bundle in cell.get("attachments", {}).values() for mime in bundle]
        if any(m in self.mimetypes or m.startswith("image/") for m in attached):
            self.flag(resources, index, None, "review", "an image attachment")
        elif cell.cell_type == "markdown" and INLINE_IMAGE.search(cell.source):
            self.flag(resources, index, None, "review", "an inline image")
        return cell, resources
