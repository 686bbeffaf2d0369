"""The output review gate: screens every output of a notebook before anything leaves the enclave.

Public API: :class:`output_review.gate.Gate`, :func:`output_review.gate.read_notebook`,
:func:`output_review.redact.redact`, :func:`output_review.render.render_html`.
"""
