"""Managing policy documents, and keeping every process's compiled policies current.

Documents are validated (`parse_document`) before anything is written, so a store only
ever holds policies that compile. Each change bumps the store's policy version in its own
transaction; the process that made it applies it to its decider at once, policy by policy,
and `PolicyCache` on every other process compares that version (one cheap read) and, only
when it moved, compiles the policies whose stored text changed, which is how a change made
on one replica reaches the others within a poll.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from authgate.audit import Caller, record
from authgate.cluster.notices import Announce, silent
from authgate.errors import NotFound, StorageUnavailable
from authgate.policy.decider import (
    AccessDecision,
    AccessRequest,
    CompiledPolicy,
    Decider,
    subjects_for,
)
from authgate.policy.documents import PolicyDocument, document_json, parse_document
from authgate.policy.errors import PolicyExists, PolicyInvalid, PolicyNotFound
from authgate.policy.patterns import PatternSet
from authgate.store import Store, Transaction
from authgate.store.policies import document_text

log = logging.getLogger("authgate.policy")

SYNC_INTERVAL = 1.0
T = TypeVar("T")


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


# Changes up to this many are applied to the decider in place, on the event loop (about
# 20 µs each); more (an import, a start) build a new decider on a thread and swap it in.
IN_PLACE_CHANGES = 200

Changes = Mapping[str, tuple[PolicyDocument, str] | None]  # id -> (document, text) or removed


class PolicyCache:
    """The compiled policies every decision reads, and the stored text of each.

    A change this process commits is applied to the decider at once, one policy at a time
    (`apply`). Another process's changes are found by the version poll: when the version
    moved, every stored text is read and compared with the one held, and only the policies
    whose text differs are compiled, so a change at ten thousand policies costs a read of
    the texts, not a recompilation of them all.
    """

    def __init__(self, store: Store, interval: float = SYNC_INTERVAL) -> None:
        self._store = store
        self._interval = interval
        self._decider = Decider()
        self._texts: dict[str, str] = {}
        self._version: int | None = None
        self._lock = asyncio.Lock()

    @property
    def decider(self) -> Decider:
        return self._decider

    @property
    def version(self) -> int | None:
        """The store's policy version the current decider reflects (None: not yet loaded)."""
        return self._version

    async def refresh_if_changed(self) -> bool:
        """Bring the decider up to date when the store's version moved; True when it did.

        The version is read before the texts: a change committed in between is applied now
        and found unchanged (harmlessly) at the next poll, never missed. A stored document
        that no longer compiles raises before anything is applied: the last good decider
        stays in place.
        """
        async with self._lock:
            async with self._store.read() as tx:
                version = await tx.policies.version()
                if version == self._version:
                    return False
                texts = await tx.policies.texts()
            changed = {pid: text for pid, text in texts.items() if self._texts.get(pid) != text}
            removed = [pid for pid in self._texts if pid not in texts]
            parsed = await _off_loop_if_many(len(changed), lambda: _parse(changed))
            await self._apply({**dict.fromkeys(removed), **parsed})
            self._version = version
            return True

    async def apply(self, version: int, changes: Changes) -> None:
        """This process committed `changes` as `version`: decide with them at once.

        Applied in place when the decider reflects the version just before; when it already
        reflects `version` or later there is nothing to do; when a change of another
        process came in between, the poll's comparison of texts catches up instead.
        """
        async with self._lock:
            if self._version is not None and self._version == version - 1:
                await self._apply(changes)
                self._version = version
                return
            if self._version is not None and self._version >= version:
                return
        await self.refresh_if_changed()

    async def _apply(self, changes: Changes) -> None:
        """Put or remove each changed policy; under the lock."""
        if not changes:
            return
        puts = [(pid, change) for pid, change in changes.items() if change is not None]
        compiled = await _off_loop_if_many(
            len(puts), lambda: [CompiledPolicy(document) for _, (document, _) in puts]
        )
        if len(changes) <= IN_PLACE_CHANGES:
            for pid, change in changes.items():
                if change is None:
                    self._decider.remove(pid)
            for policy in compiled:
                self._decider.put(policy)
        else:
            kept = [p for p in self._decider.policies if p.id not in changes]
            self._decider = await asyncio.to_thread(Decider, [*kept, *compiled])
            _keep_out_of_collections()
        for pid, change in changes.items():
            if change is None:
                self._texts.pop(pid, None)
            else:
                self._texts[pid] = change[1]

    async def run(self) -> None:
        """Poll the version until cancelled; a failed refresh keeps the current decider."""
        while True:
            try:
                await self.refresh_if_changed()
            except StorageUnavailable:
                log.warning("the database is unavailable; keeping the current policies")
            except Exception:
                log.exception("refreshing the policies failed; keeping the current ones")
            await asyncio.sleep(self._interval)


def _keep_out_of_collections() -> None:
    """Freeze what a rebuild made, as start-up freezes what it built (cli/serve.py).

    A decider holds about eight tracked objects per policy (84,000 at 10,000 policies);
    left in the collector's generations, every full collection walks them all, a pause of
    40 ms or more for whichever decision is running then. Frozen objects are no longer
    collected as cycles, so the cyclic garbage alive now is collected first, once.
    """
    gc.collect()
    gc.freeze()


def _parse(texts: Mapping[str, str]) -> dict[str, tuple[PolicyDocument, str]]:
    return {pid: (_stored(pid, json.loads(text)), text) for pid, text in texts.items()}


async def _off_loop_if_many(count: int, work: Callable[[], T]) -> T:
    """Run `work` here when `count` is small; on a thread (the event loop keeps answering
    between the interpreter's switches) when it would hold the loop for long."""
    if count <= IN_PLACE_CHANGES:
        return work()
    return await asyncio.to_thread(work)


class PolicyService:
    """Create, replace, delete, list and import policy documents; explain decisions."""

    def __init__(
        self, store: Store, cache: PolicyCache, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._cache = cache
        self._clock = clock
        self.announce: Announce = silent
        """Tells other replicas to poll policies now (Redis pub/sub; set by bootstrap)."""

    async def _changed(self, version: int, changes: Changes) -> None:
        """This process decides with a change as soon as it is committed."""
        self.announce("policy", "")
        try:
            await self._cache.apply(version, changes)
        except Exception:
            log.exception("applying a policy change failed; the poll will retry")

    async def create(self, data: Mapping[str, Any], caller: Caller) -> PolicyDocument:
        """A new policy; its id is generated when the document has none."""
        document = parse_document(data, generate_id=True)
        data = document_json(document)
        async with self._store.transaction() as tx:
            version = await tx.policies.bump_version()
            if not await tx.policies.add(document.id, data, self._clock()):
                raise PolicyExists(f"A policy with id {document.id!r} already exists.")
            await record(tx, "admin_policy_created", caller, policy=document.id)
        await self._changed(version, {document.id: (document, document_text(data))})
        return document

    async def replace(
        self, policy_id: str, data: Mapping[str, Any], caller: Caller
    ) -> tuple[PolicyDocument, bool]:
        """Create or replace the policy `policy_id`; True when it was created."""
        given = data.get("id")
        if given not in (None, "", policy_id):
            raise PolicyInvalid([f"id: {given!r} differs from the id in the path {policy_id!r}"])
        document = parse_document({**data, "id": policy_id}, generate_id=False)
        data = document_json(document)
        async with self._store.transaction() as tx:
            version = await tx.policies.bump_version()
            created = await tx.policies.put(policy_id, data, self._clock())
            event = "admin_policy_created" if created else "admin_policy_replaced"
            await record(tx, event, caller, policy=policy_id)
        await self._changed(version, {policy_id: (document, document_text(data))})
        return document, created

    async def delete(self, policy_id: str, caller: Caller) -> None:
        async with self._store.transaction() as tx:
            version = await tx.policies.bump_version()
            if not await tx.policies.delete(policy_id):
                raise PolicyNotFound()
            await record(tx, "admin_policy_deleted", caller, policy=policy_id)
        await self._changed(version, {policy_id: None})

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
        pairs = [(d.id, document_json(d)) for d in documents]
        async with self._store.transaction() as tx:
            version = await tx.policies.bump_version()
            await tx.policies.put_many(pairs, self._clock())
            ids = [d.id for d in documents]
            await record(tx, "admin_policies_imported", caller, count=len(ids), policies=ids)
        changes = {
            d.id: (d, document_text(data)) for d, (_, data) in zip(documents, pairs, strict=True)
        }
        await self._changed(version, changes)
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
