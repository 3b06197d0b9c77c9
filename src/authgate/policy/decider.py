"""The decision engine: indexed policy by policy, then asked many times a second.

Every policy gets a bit (its slot), and each field (action, subjects, resource) has an
index from a requested value to the bits of the policies that may match it: literal
patterns in a dict, regex patterns in a trie keyed by the prefix every one of their matches
starts with. A trie node with few patterns tests each (exact); a crowded one gives all its
bits (a superset, its bits "unsure"). The AND of the three masks, each looked up only
within the previous one, leaves a few candidates; only the unsure ones are matched again,
on the fields a crowded node answered for, so a decision costs about the same with ten
policies as with ten thousand. The answer is the one a linear scan of every policy gives;
the property tests compare the two, and a decider changed policy by policy with one built
afresh. Adding, replacing or removing one policy touches only the index entries of its own
patterns, so a write at ten thousand policies costs what one policy costs. Each index
entry is an int as wide as the highest slot it holds, so memory grows with policies x
distinct keys: about 15 MB at 10,000 policies, 70 MB at 30,000 (bench mix).

Ladon's rules: deny overrides allow; a policy counts only when its subject, action and
resource patterns match and all its conditions hold; nothing counting means deny.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence

from authgate.policy.access import (
    NO_MATCH,
    AccessDecision,
    AccessRequest,
    PolicyMatch,
    subjects_for,
)
from authgate.policy.conditions import Condition, build_condition
from authgate.policy.documents import PolicyDocument
from authgate.policy.errors import PolicyInvalid
from authgate.policy.patterns import Pattern, PatternSet, has_control_character

__all__ = [
    "NO_MATCH",
    "AccessDecision",
    "AccessRequest",
    "CompiledPolicy",
    "Decider",
    "PolicyMatch",
    "subjects_for",
]


class CompiledPolicy:
    """One document, ready to match: pattern sets and built conditions."""

    __slots__ = ("actions", "conditions", "document", "effect", "id", "resources", "subjects")

    def __init__(self, document: PolicyDocument) -> None:
        self.document = document
        self.id = document.id
        self.effect = document.effect
        self.subjects = PatternSet(document.subjects)
        self.actions = PatternSet(document.actions)
        self.resources = PatternSet(document.resources)
        self.conditions: tuple[tuple[str, Condition], ...] = tuple(
            (key, build_condition(spec.type, spec.options))
            for key, spec in document.conditions.items()
        )

    def matches(
        self,
        names: Sequence[str],
        action: str,
        resource: str,
        known: tuple[bool, bool, bool] = (False, False, False),
    ) -> bool:
        """The patterns match; `known` marks the fields (action, subjects, resource) that an
        exact index lookup has already established, so they are not tested twice."""
        action_known, subjects_known, resource_known = known
        return (
            (action_known or self.actions.matches(action))
            and (resource_known or self.resources.matches(resource))
            and (subjects_known or self.subjects.matches_any(names))
        )

    def conditions_hold(self, request: AccessRequest) -> bool:
        """All conditions hold; a context field a condition names but the request lacks fails."""
        context = request.context
        for key, condition in self.conditions:
            if key not in context or not condition.holds(context[key], request):
                return False
        return True


# A trie node with at most this many distinct regex patterns tests each of them, so that its
# policies become candidates only when their pattern truly matches; a node with more only
# narrows by prefix (testing them all would cost more than checking a few more candidates).
EXACT_PATTERNS_PER_NODE = 16


def _common_length(a: str, b: str) -> int:
    length = min(len(a), len(b))
    for index in range(length):
        if a[index] != b[index]:
            return index
    return length


class _PrefixTrie:
    """Regex patterns by literal prefix: every string a pattern matches starts with it.

    A radix tree: each edge holds as many characters as lie between two nodes that hold
    patterns or branch, so a lookup takes one step per such node, not one per character.
    Adding a pattern splits an edge where it must; removing one folds its node back into
    the edge when the node no longer holds patterns or branches.
    """

    __slots__ = ("by_text", "edges", "mask", "patterns")

    def __init__(self) -> None:
        self.mask = 0  # the bits of every policy with a pattern at this node
        self.by_text: dict[str, tuple[Pattern, int]] = {}
        self.patterns: tuple[tuple[Pattern, int], ...] = ()  # when few enough to test each
        self.edges: dict[str, tuple[str, _PrefixTrie]] = {}  # first char -> (label, node)

    def add(self, pattern: Pattern, bit: int) -> None:
        """File `pattern` with `bit` under each of its index prefixes."""
        for prefix in pattern.index_prefixes:
            self._add(prefix, pattern, bit)

    def _add(self, prefix: str, pattern: Pattern, bit: int) -> None:
        node = self
        rest = prefix
        while rest:
            edge = node.edges.get(rest[0])
            if edge is None:
                child = _PrefixTrie()
                node.edges[rest[0]] = (rest, child)
                node = child
                break
            label, child = edge
            common = _common_length(label, rest)
            if common < len(label):  # the pattern ends or branches inside the edge: split it
                middle = _PrefixTrie()
                middle.edges[label[common]] = (label[common:], child)
                node.edges[rest[0]] = (label[:common], middle)
                child = middle
            node = child
            rest = rest[common:]
        _, bits = node.by_text.get(pattern.text, (pattern, 0))
        node.by_text[pattern.text] = (pattern, bits | bit)
        node.mask |= bit
        node._settle()

    def remove(self, pattern: Pattern, bit: int) -> None:
        """Take `bit` off `pattern`, which `add` filed with it."""
        for prefix in pattern.index_prefixes:
            self._remove(prefix, pattern, bit)

    def _remove(self, prefix: str, pattern: Pattern, bit: int) -> None:
        path: list[tuple[_PrefixTrie, str]] = []
        node = self
        rest = prefix
        while rest:
            label, child = node.edges[rest[0]]
            path.append((node, rest[0]))
            node = child
            rest = rest[len(label) :]
        stored, bits = node.by_text[pattern.text]
        if bits & ~bit:
            node.by_text[pattern.text] = (stored, bits & ~bit)
        else:
            del node.by_text[pattern.text]
        node.mask = 0
        for _, kept in node.by_text.values():
            node.mask |= kept
        node._settle()
        while path:  # drop a node left empty; fold one left with a single child
            parent, first = path.pop()
            label, child = parent.edges[first]
            if child.by_text:
                break
            if not child.edges:
                del parent.edges[first]
                continue
            if len(child.edges) == 1:
                ((sublabel, grandchild),) = child.edges.values()
                parent.edges[first] = (label + sublabel, grandchild)
            break

    def _settle(self) -> None:
        few = len(self.by_text) <= EXACT_PATTERNS_PER_NODE
        self.patterns = tuple(self.by_text.values()) if few else ()

    def lookup(self, value: str, within: int) -> tuple[int, int]:
        """Bits (among `within`) of policies whose pattern matches `value` (sure), and of
        those that may (maybe: from a crowded node, taken whole without testing)."""
        sure = maybe = 0
        node = self
        position = 0
        end = len(value)
        while True:
            if node.mask and node.mask & within:
                if node.patterns:
                    for pattern, bits in node.patterns:
                        if bits & within and pattern.matches(value):
                            sure |= bits
                else:
                    maybe |= node.mask
            if position == end:
                break
            edge = node.edges.get(value[position])
            if edge is None or not value.startswith(edge[0], position):
                break
            position += len(edge[0])
            node = edge[1]
        return sure & within, maybe & within


def _distinct(patterns: PatternSet) -> Iterable[Pattern]:
    """The regex patterns, each text once (a policy may list one twice)."""
    return {pattern.text: pattern for pattern in patterns.regexes}.values()


class _FieldIndex:
    """For one field (subjects, actions or resources): the bits of the policies that may
    match a value. Literal patterns are looked up exactly; regex patterns in a prefix trie."""

    __slots__ = ("literal", "regex")

    def __init__(self) -> None:
        self.literal: dict[str, int] = {}
        self.regex = _PrefixTrie()

    def add(self, patterns: PatternSet, bit: int) -> None:
        for text in patterns.literals:
            self.literal[text] = self.literal.get(text, 0) | bit
        for pattern in _distinct(patterns):
            self.regex.add(pattern, bit)

    def remove(self, patterns: PatternSet, bit: int) -> None:
        for text in patterns.literals:
            kept = self.literal[text] & ~bit
            if kept:
                self.literal[text] = kept
            else:
                del self.literal[text]
        for pattern in _distinct(patterns):
            self.regex.remove(pattern, bit)

    def lookup(self, values: Iterable[str], within: int = -1) -> tuple[int, int]:
        """Bits (among `within`; -1 is all) of policies that may match any of `values`, and
        the unsure ones among them: those whose patterns must still be tested."""
        sure = maybe = 0
        for value in values:
            found, unsure = self.regex.lookup(value, within)
            sure |= self.literal.get(value, 0) | found
            maybe |= unsure
        sure &= within
        if not maybe:
            return sure, 0
        maybe &= ~sure
        return sure | maybe, maybe


def _readable(text: str) -> bool:
    if has_control_character(text):
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _by_id(policy: CompiledPolicy) -> str:
    return policy.id


class Decider:
    """The policies and their indexes, changed one policy at a time (`put`, `remove`).

    Each policy holds a slot, and its slot's bit in every index entry its patterns reach;
    a removed policy's slot goes to the next one added, so masks stay as wide as the
    number of policies. Slots say nothing of order: candidates that match are sorted by id.
    Not locked: change it only on the thread that asks it (the event loop), or build a new
    one elsewhere and swap it in whole; a change runs without yielding, so a decision
    never sees half of one.
    """

    __slots__ = ("_actions", "_free", "_resources", "_slot_of", "_slots", "_subjects")

    def __init__(self, policies: Iterable[CompiledPolicy] = ()) -> None:
        self._slots: list[CompiledPolicy | None] = []
        self._slot_of: dict[str, int] = {}
        self._free: list[int] = []  # a heap: the lowest free slot is reused first
        self._actions = _FieldIndex()
        self._subjects = _FieldIndex()
        self._resources = _FieldIndex()
        for policy in policies:
            self.put(policy)

    @classmethod
    def compile(cls, documents: Iterable[PolicyDocument]) -> Decider:
        ordered = sorted(documents, key=lambda doc: doc.id)
        duplicates = sorted(
            {a.id for a, b in zip(ordered, ordered[1:], strict=False) if a.id == b.id}
        )
        if duplicates:
            raise PolicyInvalid(
                [f"id: {pid!r} is used by more than one policy" for pid in duplicates]
            )
        return cls(CompiledPolicy(doc) for doc in ordered)

    def put(self, policy: CompiledPolicy) -> None:
        """Add `policy`, or replace the one with its id."""
        self.remove(policy.id)
        if self._free:
            slot = heapq.heappop(self._free)
            self._slots[slot] = policy
        else:
            slot = len(self._slots)
            self._slots.append(policy)
        self._slot_of[policy.id] = slot
        bit = 1 << slot
        self._actions.add(policy.actions, bit)
        self._subjects.add(policy.subjects, bit)
        self._resources.add(policy.resources, bit)

    def remove(self, policy_id: str) -> bool:
        """Remove the policy `policy_id`; False when there is none."""
        slot = self._slot_of.pop(policy_id, None)
        if slot is None:
            return False
        policy = self._slots[slot]
        assert policy is not None
        bit = 1 << slot
        self._actions.remove(policy.actions, bit)
        self._subjects.remove(policy.subjects, bit)
        self._resources.remove(policy.resources, bit)
        self._slots[slot] = None
        heapq.heappush(self._free, slot)
        return True

    def __len__(self) -> int:
        return len(self._slot_of)

    @property
    def policies(self) -> list[CompiledPolicy]:
        """Every compiled policy, in id order."""
        return sorted((p for p in self._slots if p is not None), key=_by_id)

    @property
    def documents(self) -> tuple[PolicyDocument, ...]:
        """Every policy, in id order."""
        return tuple(policy.document for policy in self.policies)

    def documents_for(self, names: Iterable[str]) -> tuple[PolicyDocument, ...]:
        """The policies whose subject patterns match any of `names` (a user's effective set)."""
        wanted = tuple(names)
        mask, unsure = self._subjects.lookup(wanted)
        found = [
            p
            for p in self._candidates(mask)
            if not unsure or p.subjects.matches_any(wanted)  # only the unsure need it
        ]
        return tuple(policy.document for policy in sorted(found, key=_by_id))

    def decide(self, request: AccessRequest) -> AccessDecision:
        names = request.subjects
        if request.subject not in names:
            names = (request.subject, *names)
        action, resource = request.action, request.resource
        if not all(_readable(text) for text in (action, resource, *names)):
            # Text RE2 cannot read, or a control character (`.` does not match a newline),
            # could slip past a deny pattern: refuse it outright, whichever adapter asks.
            return AccessDecision(allowed=False, reason=NO_MATCH, matches=())
        mask, unsure_actions = self._actions.lookup((action,))
        unsure_subjects = unsure_resources = 0
        if mask:
            mask, unsure_subjects = self._subjects.lookup(names, mask)
        if mask:
            mask, unsure_resources = self._resources.lookup((resource,), mask)
        if not mask:
            return AccessDecision(allowed=False, reason=NO_MATCH, matches=())
        unsure = (unsure_actions | unsure_subjects | unsure_resources) & mask
        found = list(self._candidates(mask & ~unsure if unsure else mask))
        if unsure:  # test again only the fields some crowded node answered for
            known = (not unsure_actions, not unsure_subjects, not unsure_resources)
            found.extend(
                p for p in self._candidates(unsure) if p.matches(names, action, resource, known)
            )
        if len(found) > 1:
            found.sort(key=_by_id)
        matches: list[PolicyMatch] = []
        first_allow: str | None = None
        first_deny: str | None = None
        for policy in found:
            held = policy.conditions_hold(request)
            matches.append(PolicyMatch(policy.id, policy.effect, held))
            if not held:
                continue
            if policy.effect == "deny":
                first_deny = first_deny or policy.id
            else:
                first_allow = first_allow or policy.id
        if first_deny is not None:
            return AccessDecision(allowed=False, reason=first_deny, matches=tuple(matches))
        if first_allow is not None:
            return AccessDecision(allowed=True, reason=first_allow, matches=tuple(matches))
        return AccessDecision(allowed=False, reason=NO_MATCH, matches=tuple(matches))

    def _candidates(self, mask: int) -> Iterator[CompiledPolicy]:
        """The policies whose bits are set in `mask`, lowest slot first."""
        slots = self._slots
        offset = 0
        while mask:
            skip = (mask & -mask).bit_length() - 1
            offset += skip
            policy = slots[offset]
            if policy is not None:  # never None: removing a policy clears its bit everywhere
                yield policy
            mask >>= skip + 1
            offset += 1
