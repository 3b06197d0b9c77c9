"""Managing policy documents, and keeping every process's compiled policies current.

Documents are validated (`parse_document`) before anything is written, so a store only
ever holds policies that compile. Each change bumps the store's policy version in its own
transaction; `PolicyCache` compares that version (one cheap read) and recompiles only when
it moved, which is how a change made on one replica reaches the others within a poll.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from authgate.audit import Caller, record
from authgate.errors import NotFound
from authgate.policy.decider import AccessDecision, AccessRequest, Decider, subjects_for
from authgate.policy.documents import PolicyDocument, document_json, parse_document
from authgate.policy.errors import PolicyExists, PolicyInvalid, PolicyNotFound
from authgate.policy.patterns import PatternSet
from authgate.store import Store, Transaction

log = logging.getLogger("authgate.policy")

SYNC_INTERVAL = 1.0


def applies_to(document: PolicyDocument, subjects: Sequence[str]) -> bool:
    """Whether any subject pattern of `document` matches any of `subjects` (Ladon matching)."""
    return PatternSet(document.subjects).matches_any(subjects)


def _stored(policy_id: str, data: Mapping[str, Any]) -> PolicyDocument:
    try:
        return parse_document(data, generate_id=False)
    except PolicyInvalid as exc:
        raise PolicyInvalid([f"stored policy {policy_id!r}: {p}" for p in exc.problems]) from None


async def _documents(tx: Transaction) -> list[PolicyDocument]:
    """Every stored document, sorted by id as Python compares strings (not as the database's
    collation does), so every backend lists in the same order."""
    records = sorted(await tx.policies.list(), key=lambda r: r.id)
    return [_stored(r.id, r.document) for r in records]


class PolicyCache:
    """The compiled policies every decision reads; swapped whole, never changed in place."""

    def __init__(self, store: Store, interval: float = SYNC_INTERVAL) -> None:
        self._store = store
        self._interval = interval
        self._decider = Decider.compile(())
        self._version: int | None = None
        self._lock = asyncio.Lock()

    @property
    def decider(self) -> Decider:
        return self._decider

    @property
    def version(self) -> int | None:
        """The store's policy version the current decider was compiled from (None: not yet)."""
        return self._version

    async def refresh_if_changed(self) -> bool:
        """Recompile when the store's version moved; True when it did.

        The version is read before the documents: a change committed in between is compiled
        now and recompiled (harmlessly) at the next poll, never missed. A stored document
        that no longer compiles raises, and the last good decider stays in place.
        """
        async with self._lock:
            async with self._store.read() as tx:
                version = await tx.policies.version()
                if version == self._version:
                    return False
                records = await tx.policies.list()
            documents = [_stored(r.id, r.document) for r in records]
            # Compiling thousands of patterns takes a while: keep the event loop answering.
            self._decider = await asyncio.to_thread(Decider.compile, documents)
            self._version = version
            return True

    async def run(self) -> None:
        """Poll the version until cancelled; a failed refresh keeps the current decider."""
        while True:
            try:
                await self.refresh_if_changed()
            except Exception:
                log.exception("refreshing the policies failed; keeping the current ones")
            await asyncio.sleep(self._interval)


class PolicyService:
    """Create, replace, delete, list and import policy documents; explain decisions."""

    def __init__(
        self, store: Store, cache: PolicyCache, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._cache = cache
        self._clock = clock

    async def _changed(self) -> None:
        """This process decides with a change as soon as it is committed."""
        try:
            await self._cache.refresh_if_changed()
        except Exception:
            log.exception("recompiling the policies after a change failed; the poll will retry")

    async def create(self, data: Mapping[str, Any], caller: Caller) -> PolicyDocument:
        """A new policy; its id is generated when the document has none."""
        document = parse_document(data, generate_id=True)
        async with self._store.transaction() as tx:
            await tx.policies.bump_version()
            if not await tx.policies.add(document.id, document_json(document), self._clock()):
                raise PolicyExists(f"A policy with id {document.id!r} already exists.")
            await record(tx, "admin_policy_created", caller, policy=document.id)
        await self._changed()
        return document

    async def replace(
        self, policy_id: str, data: Mapping[str, Any], caller: Caller
    ) -> tuple[PolicyDocument, bool]:
        """Create or replace the policy `policy_id`; True when it was created."""
        given = data.get("id")
        if given not in (None, "", policy_id):
            raise PolicyInvalid([f"id: {given!r} differs from the id in the path {policy_id!r}"])
        document = parse_document({**data, "id": policy_id}, generate_id=False)
        async with self._store.transaction() as tx:
            await tx.policies.bump_version()
            created = await tx.policies.put(policy_id, document_json(document), self._clock())
            event = "admin_policy_created" if created else "admin_policy_replaced"
            await record(tx, event, caller, policy=policy_id)
        await self._changed()
        return document, created

    async def delete(self, policy_id: str, caller: Caller) -> None:
        async with self._store.transaction() as tx:
            await tx.policies.bump_version()
            if not await tx.policies.delete(policy_id):
                raise PolicyNotFound()
            await record(tx, "admin_policy_deleted", caller, policy=policy_id)
        await self._changed()

    async def import_documents(
        self, items: Sequence[object], caller: Caller
    ) -> list[PolicyDocument]:
        """All or nothing: one bad document and none is written; every problem is reported,
        prefixed with the index of its document. Documents replace those with the same id."""
        documents: list[PolicyDocument] = []
        problems: list[str] = []
        first_seen: dict[str, int] = {}
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                problems.append(f"[{index}]: a policy document must be a JSON object")
                continue
            try:
                document = parse_document(item, generate_id=True)
            except PolicyInvalid as exc:
                problems.extend(f"[{index}] {problem}" for problem in exc.problems)
                continue
            if document.id in first_seen:
                problems.append(
                    f"[{index}] id: {document.id!r} is also the id of [{first_seen[document.id]}]"
                )
            first_seen.setdefault(document.id, index)
            documents.append(document)
        if problems:
            raise PolicyInvalid(problems, "No policy was imported: some documents are invalid.")
        if not documents:
            return []
        async with self._store.transaction() as tx:
            await tx.policies.bump_version()
            pairs = [(d.id, document_json(d)) for d in documents]
            await tx.policies.put_many(pairs, self._clock())
            ids = [d.id for d in documents]
            await record(tx, "admin_policies_imported", caller, count=len(ids), policies=ids)
        await self._changed()
        return documents

    async def get(self, policy_id: str) -> PolicyDocument:
        async with self._store.read() as tx:
            found = await tx.policies.get(policy_id)
        if found is None:
            raise PolicyNotFound()
        return _stored(found.id, found.document)

    async def effective_for_user(self, sub: str) -> list[PolicyDocument]:
        """The policies naming the user, directly or through a `group:<name>` subject."""
        async with self._store.read() as tx:
            user = await tx.users.get(sub)
            if user is None:
                raise NotFound("No such user.")
            documents = await _documents(tx)
        subjects = subjects_for(sub, None, user.groups)
        return [d for d in documents if applies_to(d, subjects)]

    async def subjects_of(self, subject: str, groups: Sequence[str] = ()) -> tuple[str, ...]:
        """Every name `subject` goes by: itself, the given groups, and, when it is a user of
        the pool, that user's current groups."""
        async with self._store.read() as tx:
            user = await tx.users.get(subject)
        current = user.groups if user is not None else []
        return subjects_for(subject, None, [*groups, *current])

    async def check(
        self,
        subject: str,
        action: str,
        resource: str,
        context: Mapping[str, Any],
        groups: Sequence[str] = (),
    ) -> tuple[AccessDecision, tuple[str, ...]]:
        """The decision the current policies give, and the subjects it was asked for."""
        subjects = await self.subjects_of(subject, groups)
        request = AccessRequest(
            subject=subject,
            subjects=subjects,
            action=action,
            resource=resource,
            context=dict(context),
        )
        return self._cache.decider.decide(request), subjects

    # Last: below this method, `list` in an annotation would name it, not the builtin.
    async def list(self, subject: str | None = None) -> list[PolicyDocument]:
        """Every policy by id; with `subject`, those whose subject patterns match it."""
        async with self._store.read() as tx:
            documents = await _documents(tx)
        if subject is None:
            return documents
        return [d for d in documents if applies_to(d, (subject,))]
