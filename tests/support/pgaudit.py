"""pgAudit records as the hot standby's jsonlog writes them (shape captured from PostgreSQL 15
with pgAudit 1.7), for importer and steward tests that need no server."""

import csv
import io
import json


def audit_message(audit_type, statement_id, substatement_id, cls, command, kind, name, sql):
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(
        [audit_type, statement_id, substatement_id, cls, command, kind, name, sql, "<not logged>"]
    )
    return "AUDIT: " + out.getvalue()


def log_line(message, role="db_sess_rita", session="6b0f4862.1f0f", severity="LOG"):
    entry = {
        "timestamp": "2026-11-29 01:00:00.100 UTC",
        "user": role,
        "dbname": "db",
        "pid": 7951,
        "session_id": session,
        "error_severity": severity,
        "message": message,
        "backend_type": "client backend",
    }
    return json.dumps(entry) + "\n"


def read(sql, relations, statement_id=1, role="db_sess_rita", session="6b0f4862.1f0f"):
    """The lines of one statement that reads ``relations``: a SESSION record, then an OBJECT
    record per relation."""
    lines = [
        log_line(
            audit_message("SESSION", statement_id, 1, "READ", "SELECT", "", "", sql), role, session
        )
    ]
    for relation in relations:
        message = audit_message("OBJECT", statement_id, 1, "READ", "SELECT", "TABLE", relation, sql)
        lines.append(log_line(message, role, session))
    return "".join(lines)
