"""One set of state objects per state database, shared by the hub's handlers and spawners."""

import json
from dataclasses import dataclass
from functools import lru_cache

from traitlets.config import Config

from enclave.audit import AuditLog, keying
from enclave.consortium import consortium
from enclave.hub.agreement import AgreementRecords, DataUseAgreement
from enclave.projects import ProjectRegistry
from enclave.state import EnclaveState, make_engine


@dataclass(frozen=True)
class EnclaveContext:
    agreement: DataUseAgreement
    acceptances: AgreementRecords
    projects: ProjectRegistry
    audit: AuditLog


@lru_cache(maxsize=8)
def _context_for(
    db_url: str,
    agreement_file: str,
    agreement_version: str,
    agreement_effective: str,
    consortium_settings: str,
) -> EnclaveContext:
    engine = make_engine(db_url)  # keyed already (enclave_context)
    members = consortium(Config({"Consortium": json.loads(consortium_settings)}))
    agreement = DataUseAgreement(text_file=agreement_file)
    if agreement_version:
        agreement.version = agreement_version
    if agreement_effective:
        agreement.effective = agreement_effective
    return EnclaveContext(
        agreement=agreement,
        acceptances=AgreementRecords(engine),
        projects=ProjectRegistry(engine, members),
        audit=AuditLog(engine),
    )


def enclave_context(config: Config) -> EnclaveContext:
    """The state objects for this configuration (engines are made once per process)."""
    state = EnclaveState(config=config)
    keying.use(config, state.db_url)  # before any AuditLog on it: its events are keyed
    agreement = DataUseAgreement(config=config)
    explicit = config.DataUseAgreement
    return _context_for(
        state.db_url,
        agreement.text_file,
        explicit.get("version", ""),
        explicit.get("effective", ""),
        json.dumps(dict.get(config, "Consortium") or {}, sort_keys=True),  # the members
    )
